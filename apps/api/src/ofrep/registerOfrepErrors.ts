import type { FastifyError, FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import { ApiError } from '../errors.js';
import { BODY_LIMIT_BYTES } from '../plugins/jsonBody.js';
import { OfrepAuthError, OfrepError } from './OfrepError.js';

const JSON_TYPE = 'application/json; charset=utf-8';

/** The flag key of the single-flag route (OFREP's failure shape requires it there); undefined on the bulk route. */
const keyOf = (request: FastifyRequest): string | undefined => (request.params as { key?: string } | undefined)?.key;

/** Fastify's own errors about the body, which are all a PARSE_ERROR to an OFREP client. */
const bodyErrorMessage = (error: FastifyError): string | undefined => {
  switch (error.code) {
    case 'FST_ERR_CTP_BODY_TOO_LARGE':
      return `the request body exceeds ${BODY_LIMIT_BYTES} bytes`;
    case 'FST_ERR_CTP_INVALID_MEDIA_TYPE':
    case 'FST_ERR_CTP_INVALID_TYPE':
      return 'the request body must be application/json';
    case 'FST_ERR_CTP_EMPTY_JSON_BODY':
    case 'FST_ERR_CTP_INVALID_JSON_BODY':
      return 'the request body is not valid JSON';
    case 'FST_ERR_CTP_INVALID_CONTENT_LENGTH':
      return 'the request body does not match its Content-Length';
    default:
      return typeof error.statusCode === 'number' && error.statusCode >= 400 && error.statusCode < 500 ? error.message : undefined;
  }
};

/** Any error in the OFREP scope as an OFREP answer. */
const toOfrepError = (error: unknown): OfrepError | OfrepAuthError | undefined => {
  if (error instanceof OfrepError || error instanceof OfrepAuthError) return error;
  // The live state cannot be vouched for (servableState), or the server is draining.
  if (error instanceof ApiError && error.status === 503) return new OfrepError('GENERAL', error.message, { cause: error });
  const message = bodyErrorMessage(error as FastifyError);
  return message === undefined ? undefined : new OfrepError('PARSE_ERROR', message, { cause: error });
};

const sendOfrepError = (reply: FastifyReply, request: FastifyRequest, error: OfrepError | OfrepAuthError): FastifyReply => {
  if (error instanceof OfrepAuthError) {
    if (error.status === 401) reply.header('WWW-Authenticate', 'Bearer, ApiKey header="X-API-Key"');
    return reply.code(error.status).type(JSON_TYPE).send(error.body());
  }
  if (error.status === 503) reply.header('Retry-After', '1');
  return reply.code(error.status).type(JSON_TYPE).send(error.body(keyOf(request)));
};

/** A path Fastify could not route (a malformed percent-encoding, an over-long key), answered before the OFREP scope. */
export const sendOfrepPathError = (reply: FastifyReply, message: string): FastifyReply =>
  reply.code(400).type(JSON_TYPE).send(new OfrepError('PARSE_ERROR', message).body(undefined));

/** The contract's error body (`{"error": {"code", "message"}}`), which a hook outside this scope may have sent. */
const contractError = (payload: unknown): { code: string; message: string } | undefined => {
  if (typeof payload !== 'string' || !payload.startsWith('{"error":')) return undefined;
  try {
    const { error } = JSON.parse(payload) as { error?: { code?: unknown; message?: unknown } };
    return typeof error?.code === 'string' && typeof error.message === 'string' ? { code: error.code, message: error.message } : undefined;
  } catch {
    return undefined;
  }
};

/**
 * Every answer of the OFREP scope that is not an evaluation is in OFREP's shapes: errors thrown in it (the handler
 * here), unknown routes under the prefix, and errors sent by the server's own hooks (the shutdown guard's 503),
 * which are rewritten as they leave. A 500 says only the request id; the error is logged.
 */
export const registerOfrepErrors = (scope: FastifyInstance): void => {
  scope.setErrorHandler((error, request, reply) => {
    const answer = toOfrepError(error);
    if (answer !== undefined) {
      request.log.debug({ status: answer.status, message: answer.message }, 'OFREP request rejected');
      return sendOfrepError(reply, request, answer);
    }
    request.log.error({ err: error }, 'OFREP request failed');
    return reply.code(500).type(JSON_TYPE).send(JSON.stringify({ errorDetails: `internal error; reported in the server log under request id ${request.id}` }));
  });
  scope.setNotFoundHandler((request, reply) =>
    reply
      .code(404)
      .type(JSON_TYPE)
      .send(JSON.stringify({ errorDetails: `no route ${request.method} ${request.url.split('?')[0] ?? ''}: OFREP evaluations are POST /ofrep/v1/evaluate/flags and POST /ofrep/v1/evaluate/flags/{key}` })),
  );
  // A callback hook, not an async one: it runs on every answer, and the evaluations' path stays free of promises.
  scope.addHook('onSend', (request, reply, payload, done) => {
    const contract = reply.statusCode < 400 ? undefined : contractError(payload);
    if (contract === undefined) {
      done(null, payload);
      return;
    }
    done(null, reply.statusCode === 503 ? new OfrepError('GENERAL', contract.message).body(keyOf(request)) : JSON.stringify({ errorDetails: contract.message }));
  });
};
