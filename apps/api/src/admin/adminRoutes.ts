import { createBullBoard } from '@bull-board/api';
import { BullMQAdapter } from '@bull-board/api/bullMQAdapter';
import { FastifyAdapter } from '@bull-board/fastify';
import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import type { ZodTypeProvider } from 'fastify-type-provider-zod';
import { z } from 'zod';
import { ROLES } from '@valhalla/core';
import { authenticate, createTokenVerifier } from '../auth.js';
import { callDatabase } from '../dependencyCalls.js';
import type { ApiDependencies } from '../dependencies.js';
import { ApiError } from '../errors.js';
import { enforceContractErrorShape } from '../plugins/contractErrorShape.js';
import { sendError } from '../plugins/errorHandling.js';
import { BODY_LIMIT_BYTES, parseJsonText } from '../plugins/jsonBody.js';
import { clearSessionCookie, setSessionCookie } from '../sessions/sessionCookie.js';
import { csrfTokenOf, findSession, revokeSession, SESSION_COOKIE, sessionIdOf } from '../sessions/sessionStore.js';
import { signIn } from '../sessions/signIn.js';
import { issueLoginCsrf, loginCsrfMatches, refuseCrossSite, sameSecret } from './formCsrf.js';
import { loginPage, signInRequiredPage, type LoginProblem } from './loginPage.js';

/** Mount point of the admin pages; the dashboard is at `${ADMIN_PREFIX}/queues`. */
export const ADMIN_PREFIX = '/admin';
/** The dashboard shares the console's session cookie. */
export const ADMIN_SESSION_COOKIE = SESSION_COOKIE;

/** Methods that only read. Every other bull-board call (retry, clean, promote, pause, empty, obliterate, add…) writes. */
const READ_METHODS: ReadonlySet<string> = new Set(['GET', 'HEAD']);
/** Who may look at the queues: people. */
const DASHBOARD_ROLES: ReadonlySet<string> = new Set([ROLES.operator, ROLES.reader]);
/** Login attempts per minute per client address, whatever RATE_LIMIT_PER_MINUTE allows elsewhere. */
const LOGIN_ATTEMPTS_PER_MINUTE = 30;

const loginBody = z.strictObject({
  token: z.string().min(1).max(1000),
  /** The login form's double-submit token (required for a form post). */
  csrf: z.string().max(200).optional(),
});

const wantsHtml = (request: FastifyRequest) => (request.headers.accept ?? '').includes('text/html');
const isForm = (request: FastifyRequest) => (request.headers['content-type'] ?? '').startsWith('application/x-www-form-urlencoded');

/**
 * Body parsers of the admin pages only: JSON (an empty body is no body: bull-board's UI sends bodiless PUTs) and,
 * for the login form, application/x-www-form-urlencoded. Fastify scopes parsers to this plugin.
 */
const registerAdminBodyParsers = (scope: FastifyInstance): void => {
  scope.removeAllContentTypeParsers();
  scope.addContentTypeParser('application/json', { parseAs: 'string', bodyLimit: BODY_LIMIT_BYTES }, (_request, body, done) => {
    try {
      done(null, (body as string).length === 0 ? undefined : parseJsonText(body as string));
    } catch (error) {
      done(error as Error, undefined);
    }
  });
  scope.addContentTypeParser('application/x-www-form-urlencoded', { parseAs: 'string', bodyLimit: BODY_LIMIT_BYTES }, (_request, body, done) => {
    done(null, Object.fromEntries(new URLSearchParams(body as string)));
  });
};

/**
 * /admin: the bull-board queue dashboard for the queues at /admin/queues, and its login.
 *
 * Access: a valid `Authorization: Bearer` token of an operator or reader, or the session cookie (the same
 * server-side session as the console's, opened by POST /admin/login or POST /api/session). The dashboard is for
 * looking only: every queue is in bull-board's read-only mode (no write buttons), and every non-GET call is refused
 * with 403 FORBIDDEN, so nothing can add, edit, retry, promote, clean or pause a job here behind the audit log's
 * back. The writes an operator needs have audited /api routes with the real actor: POST /api/jobs/:id/retry and
 * POST /api/queues/:name/pause|resume (ADMIN_ACTORS).
 */
export const adminRoutes = async (scope: FastifyInstance, deps: ApiDependencies): Promise<void> => {
  const { config } = deps;
  const verify = createTokenVerifier(config.roleTokens);
  const admins: ReadonlySet<string> = new Set(config.adminActors);

  registerAdminBodyParsers(scope);
  const app = scope.withTypeProvider<ZodTypeProvider>();

  const formPage = (reply: FastifyReply, status: number, problem: LoginProblem) =>
    reply.code(status).type('text/html; charset=utf-8').send(loginPage({ problem, csrfToken: issueLoginCsrf(reply) }));

  app.get('/login', { schema: { hide: true } }, async (_request, reply) => formPage(reply, 200, 'none'));

  // Login CSRF (a cross-site form signing the victim in as the attacker) is stopped twice over: a browser's post from
  // another site is refused by its Origin / Sec-Fetch-Site, and a form post must carry the double-submit token of the
  // form this browser was given (a cross-site page can neither read it nor send its SameSite=Strict cookie). A JSON
  // post cannot come from another site without CORS, which allows no origin for /admin.
  app.post(
    '/login',
    {
      schema: { hide: true, body: loginBody },
      config: { rateLimit: { max: Math.min(config.rateLimitPerMinute, LOGIN_ATTEMPTS_PER_MINUTE), timeWindow: 60_000 } },
    },
    async (request, reply) => {
      refuseCrossSite(request, `POST ${ADMIN_PREFIX}/login`);
      if (isForm(request) && !loginCsrfMatches(request, request.body.csrf)) {
        request.log.warn('admin login form without its double-submit token refused');
        return formPage(reply, 403, 'form');
      }
      let session;
      try {
        session = await signIn(deps.pool, verify, request.body.token);
      } catch (error) {
        if (!(error instanceof ApiError) || error.code === 'DEPENDENCY_UNAVAILABLE' || !isForm(request)) throw error;
        request.log.warn({ code: error.code }, 'admin login refused');
        return formPage(reply, error.status, 'token');
      }
      request.log.info({ actor: session.actor }, 'admin login');
      setSessionCookie(reply, session.secret, session.expiresAt);
      if (isForm(request)) return reply.code(303).header('location', `${ADMIN_PREFIX}/queues`).send();
      return reply.send({ actor: session.actor, role: session.role, admin: admins.has(session.actor), csrfToken: session.csrfToken, expires_at: session.expiresAt.toISOString() });
    },
  );

  // A forced logout (a cross-site form ending the victim's session) is refused the same way: from another site, or
  // without the session's CSRF token (X-CSRF-Token, or a form's `csrf` field), a live session is neither revoked nor
  // cleared. A cookie whose session is already over is cleared whoever asks.
  app.post('/logout', { schema: { hide: true } }, async (request, reply) => {
    refuseCrossSite(request, `POST ${ADMIN_PREFIX}/logout`);
    const secret = request.cookies[SESSION_COOKIE];
    if (secret !== undefined) {
      const live = await callDatabase(() => findSession(deps.pool, secret));
      if (live !== null) {
        const header = request.headers['x-csrf-token'];
        const field = (request.body as { csrf?: unknown } | undefined)?.csrf;
        const presented = typeof header === 'string' ? header : field;
        if (typeof presented !== 'string' || !sameSecret(presented, csrfTokenOf(secret))) {
          throw new ApiError('FORBIDDEN', `POST ${ADMIN_PREFIX}/logout with a session cookie must carry the session's CSRF token`, {
            details: [{ field: 'X-CSRF-Token', message: 'missing or does not match the session' }],
          });
        }
        await callDatabase(() => revokeSession(deps.pool, secret));
        scope.liveStreams.endSession(sessionIdOf(secret));
        request.log.info({ actor: live.actor }, 'admin logout');
      }
      clearSessionCookie(reply);
    }
    if (isForm(request) || wantsHtml(request)) return reply.code(303).header('location', `${ADMIN_PREFIX}/login`).send();
    return reply.code(204).send();
  });

  await scope.register(async (dashboard) => {
    // bull-board answers its own errors (`{"error", "details"}`, with a stack on 500): keep the contract's shape.
    enforceContractErrorShape(dashboard);
    dashboard.addHook('onRequest', async (request, reply) => {
      const principal = await authenticate(request, verify, deps.pool);
      if (principal === null) return refuseUnauthenticated(request, reply);
      request.principal = principal;
      if (!DASHBOARD_ROLES.has(principal.role)) {
        return sendError(reply, { code: 'FORBIDDEN', message: `the ${principal.role} role may not view the queue dashboard` });
      }
      if (READ_METHODS.has(request.method)) return;
      request.log.warn({ actor: principal.actor, method: request.method, route: request.routeOptions.url }, 'queue dashboard write refused');
      return sendError(reply, {
        code: 'FORBIDDEN',
        message: 'the queue dashboard is read-only; use the audited API (POST /api/jobs/:id/retry, POST /api/queues/:name/pause|resume)',
      });
    });

    const serverAdapter = new FastifyAdapter();
    serverAdapter.setBasePath(`${ADMIN_PREFIX}/queues`);
    createBullBoard({
      // Read-only: bull-board shows no write buttons and its own handlers refuse writes too (a second lock).
      queues: Object.values(deps.queues.byName).map((queue) => new BullMQAdapter(queue, { readOnlyMode: true })),
      serverAdapter,
      options: { uiConfig: { boardTitle: 'Valhalla queues' } },
    });
    await dashboard.register(serverAdapter.registerPlugin(), { prefix: '/queues' });
  });
};

const refuseUnauthenticated = (request: FastifyRequest, reply: FastifyReply): FastifyReply => {
  reply.header('WWW-Authenticate', 'Bearer');
  if (request.method === 'GET' && wantsHtml(request)) {
    return reply.code(401).type('text/html; charset=utf-8').send(signInRequiredPage);
  }
  return sendError(reply, { code: 'UNAUTHENTICATED', message: `a valid bearer token or a session from POST ${ADMIN_PREFIX}/login or POST /api/session is required` });
};
