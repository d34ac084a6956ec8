import type { FreshLiveState, RoleToken } from '@valhalla/core';
import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import { z } from 'zod';
import { createTokenVerifier, LIVE_STATE_ROLES, seesChangeDetails } from '../auth.js';
import { matchesEtag } from '../live/matchesEtag.js';
import { BODY_LIMIT_BYTES } from '../plugins/jsonBody.js';
import { servableState, type LiveStateSource } from '../live/servableState.js';
import { OfrepAuthError, OfrepError } from '../ofrep/OfrepError.js';
import { isOfrepFlagKey, OFREP_FLAG_KEYS, renderedEvaluations, type OfrepAudience } from '../ofrep/ofrepFlags.js';
import { bulkEvaluationResponses, ofrepEvaluationRequest, singleEvaluationResponses } from '../ofrep/ofrepSchemas.js';
import { readEvaluationRequest } from '../ofrep/readEvaluationRequest.js';
import { registerOfrepBody } from '../ofrep/registerOfrepBody.js';
import { registerOfrepErrors } from '../ofrep/registerOfrepErrors.js';

/** Where the OFREP routes are mounted: OFREP's own paths, at the api's root (providers append them to a base URL). */
export const OFREP_PREFIX = '/ofrep/v1';

export type OfrepRouteDeps = LiveStateSource & { tokens: readonly RoleToken[] };

const JSON_TYPE = 'application/json; charset=utf-8';

/**
 * What the headers alone say about the body: JSON, not compressed, of a declared length within the body limit (a
 * chunked body of unknown length is read and judged as usual). Anything else is answered by the usual path (400).
 */
const headersAcceptable = (request: FastifyRequest): boolean => {
  const type = request.headers['content-type'];
  const encoding = request.headers['content-encoding'];
  const length = Number(request.headers['content-length']);
  return (
    type !== undefined &&
    /^application\/json\s*(;|$)/i.test(type) &&
    (encoding === undefined || /^\s*identity\s*$/i.test(encoding)) &&
    Number.isInteger(length) &&
    length > 0 &&
    length <= BODY_LIMIT_BYTES
  );
};

/** The routes validate requests themselves (readEvaluationRequest), to answer in OFREP's error shapes. */
const noValidation = () => (value: unknown) => ({ value });

/**
 * The OpenFeature Remote Evaluation Protocol's core routes (https://github.com/open-feature/protocol/blob/main/service/openapi.yaml), answered
 * from this instance's live-state memory like GET /api/governance/live: no database round trip per request.
 * Credentials: `Authorization: Bearer <token>` or OFREP's `X-API-Key: <token>`, of an app, reader or operator token
 * (no session cookie: these are POSTs for services, and a cookie would make them forgeable cross-site).
 */
export const ofrepRoutes = async (scope: FastifyInstance, deps: OfrepRouteDeps): Promise<void> => {
  const verify = createTokenVerifier(deps.tokens);
  registerOfrepBody(scope);
  registerOfrepErrors(scope);

  // Before the body is read: an unauthenticated request never reaches parsing. A callback hook: no database, no
  // promise (the credential check is a hash and a comparison per configured token).
  scope.addHook('onRequest', (request, _reply, done) => {
    // An Authorization header, when present, is the credential (an invalid one is not rescued by X-API-Key).
    const authorization = request.headers.authorization;
    const apiKey = request.headers['x-api-key'];
    const principal = authorization !== undefined ? verify.bearer(authorization) : verify.apiKey(typeof apiKey === 'string' ? apiKey : undefined);
    if (principal === null) {
      done(new OfrepAuthError(401, 'a valid token is required: Authorization: Bearer <token> or X-API-Key: <token> (an app, reader or operator token)'));
      return;
    }
    if (!LIVE_STATE_ROLES.includes(principal.role)) {
      done(new OfrepAuthError(403, `the ${principal.role} role may not evaluate flags`));
      return;
    }
    request.principal = principal;
    done();
  });

  const audienceOf = (request: FastifyRequest): OfrepAudience => (seesChangeDetails(request.principal?.role) ? 'full' : 'app');

  /**
   * Answers from the snapshot synchronously when the listener is up (no promise: see the live route), else after a
   * fallback read within the staleness bound.
   */
  const answer = (reply: FastifyReply, send: (fresh: FreshLiveState) => FastifyReply): Promise<FastifyReply> | undefined => {
    const current = deps.listener.isListening() ? deps.listener.current() : undefined;
    if (current !== undefined) {
      send({ state: current, ageMs: 0 });
      return undefined;
    }
    return servableState(deps).then((fresh) => {
      if (fresh.ageMs > 0) reply.header('X-Live-State-Age-Ms', String(fresh.ageMs));
      return send(fresh);
    });
  };

  scope.post(
    '/evaluate/flags/:key',
    {
      validatorCompiler: noValidation,
      // An evaluation reads: repeating it is harmless.
      config: { idempotencyKey: 'not-needed' },
      schema: {
        summary: 'OFREP: evaluate one flag',
        description:
          `The flags are ${OFREP_FLAG_KEYS.map((key) => `\`${key}\``).join(', ')}: booleans with variants \`on\`/\`off\`, ` +
          'reason `STATIC`, metadata carrying the state `version`. The context is accepted and not used (no targeting).',
        tags: ['OFREP'],
        params: z.object({ key: z.string().describe('The flag key') }),
        body: ofrepEvaluationRequest,
        response: singleEvaluationResponses,
      },
    },
    (request, reply) => {
      const { key } = request.params as { key: string };
      readEvaluationRequest(request.body);
      if (!isOfrepFlagKey(key)) {
        throw new OfrepError('FLAG_NOT_FOUND', `no flag ${JSON.stringify(key)}: the flags are ${OFREP_FLAG_KEYS.join(', ')}`);
      }
      const audience = audienceOf(request);
      return answer(reply, ({ state }) =>
        reply.header('Cache-Control', 'no-cache').type(JSON_TYPE).send(renderedEvaluations(state, audience).single.get(key)),
      );
    },
  );

  scope.post(
    '/evaluate/flags',
    {
      validatorCompiler: noValidation,
      config: { idempotencyKey: 'not-needed' },
      schema: {
        summary: 'OFREP: evaluate every flag, with ETag; If-None-Match answers 304',
        description: 'The ETag is the live state\'s (as GET /api/governance/live\'s). The context is accepted and not used.',
        tags: ['OFREP'],
        headers: z.object({ 'if-none-match': z.string().optional().describe('The ETag of a previous answer') }),
        body: ofrepEvaluationRequest,
        response: bulkEvaluationResponses,
      },
      // If-None-Match is a precondition: HTTP evaluates it after the credentials and the request's headers and before
      // the content (RFC 9110, 13.2.1). A request whose headers are acceptable and whose tag matches is answered 304
      // without its body being read: the common case of every polling provider, at the cost of a GET /live 304.
      onRequest: (request, reply, done) => {
        const current = deps.listener.isListening() ? deps.listener.current() : undefined;
        if (current !== undefined && headersAcceptable(request) && matchesEtag(request.headers['if-none-match'], current.etag)) {
          void reply.header('ETag', `"${current.etag}"`).header('Cache-Control', 'no-cache').code(304).send();
          return;
        }
        done();
      },
    },
    (request, reply) => {
      readEvaluationRequest(request.body);
      const audience = audienceOf(request);
      return answer(reply, ({ state }) => {
        reply.header('ETag', `"${state.etag}"`).header('Cache-Control', 'no-cache');
        if (matchesEtag(request.headers['if-none-match'], state.etag)) return reply.code(304).send();
        return reply.type(JSON_TYPE).send(renderedEvaluations(state, audience).bulk);
      });
    },
  );
};
