import cookie from '@fastify/cookie';
import { createBullBoard } from '@bull-board/api';
import { BullMQAdapter } from '@bull-board/api/bullMQAdapter';
import { FastifyAdapter } from '@bull-board/fastify';
import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import type { ZodTypeProvider } from 'fastify-type-provider-zod';
import { z } from 'zod';
import { createTokenVerifier, type Principal } from '../auth.js';
import type { ApiDependencies } from '../dependencies.js';
import { enforceContractErrorShape } from '../plugins/contractErrorShape.js';
import { sendError } from '../plugins/errorHandling.js';
import { BODY_LIMIT_BYTES, parseJsonText } from '../plugins/jsonBody.js';
import { createAdminSessions } from './adminSessions.js';
import { loginPage, signInRequiredPage } from './loginPage.js';

/** Mount point of the admin pages; the dashboard is at `${ADMIN_PREFIX}/queues`. */
export const ADMIN_PREFIX = '/admin';
export const ADMIN_SESSION_COOKIE = 'valhalla_admin';

/** Methods that only read. Every other bull-board call (retry, clean, promote, pause, empty, obliterate, add…) writes. */
const READ_METHODS: ReadonlySet<string> = new Set(['GET', 'HEAD']);
/** Login attempts per minute per client address, whatever RATE_LIMIT_PER_MINUTE allows elsewhere. */
const LOGIN_ATTEMPTS_PER_MINUTE = 30;

const loginBody = z.strictObject({ token: z.string().min(1).max(1000) });

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
 * /admin: the bull-board queue dashboard for both queues at /admin/queues, and its login.
 *
 * Access: a valid `Authorization: Bearer` token, or the session cookie that POST /admin/login sets for a valid token
 * (the dashboard's own XHRs cannot send a bearer header). Everyone with a token may look; only actors in
 * ADMIN_ACTORS may change anything: every non-GET call is refused with 403 FORBIDDEN for the others, and the
 * changes admins make are logged with their actor.
 */
export const adminRoutes = async (scope: FastifyInstance, deps: ApiDependencies): Promise<void> => {
  const { config } = deps;
  const verifyBearer = createTokenVerifier(config.governanceTokens);
  const sessions = createAdminSessions(config.governanceTokens);
  const admins: ReadonlySet<string> = new Set(config.adminActors);
  const cookieOptions = {
    path: ADMIN_PREFIX,
    httpOnly: true,
    sameSite: 'strict' as const,
    secure: config.isProduction,
  };

  await scope.register(cookie);
  registerAdminBodyParsers(scope);
  const app = scope.withTypeProvider<ZodTypeProvider>();

  app.get('/login', { schema: { hide: true } }, async (_request, reply) => reply.type('text/html; charset=utf-8').send(loginPage({ failed: false })));

  app.post(
    '/login',
    {
      schema: { hide: true, body: loginBody },
      config: { rateLimit: { max: Math.min(config.rateLimitPerMinute, LOGIN_ATTEMPTS_PER_MINUTE), timeWindow: 60_000 } },
    },
    async (request, reply) => {
      const session = sessions.issue(request.body.token);
      if (session === null) {
        request.log.warn('admin login with an unknown token');
        if (isForm(request)) return reply.code(401).type('text/html; charset=utf-8').send(loginPage({ failed: true }));
        return sendError(reply, { code: 'UNAUTHENTICATED', message: 'the token is not valid' });
      }
      request.log.info({ actor: session.principal.actor }, 'admin login');
      reply.setCookie(ADMIN_SESSION_COOKIE, session.value, { ...cookieOptions, expires: session.expiresAt });
      if (isForm(request)) return reply.code(303).header('location', `${ADMIN_PREFIX}/queues`).send();
      return reply.send({ actor: session.principal.actor, admin: admins.has(session.principal.actor), expires_at: session.expiresAt.toISOString() });
    },
  );

  app.post('/logout', { schema: { hide: true } }, async (request, reply) => {
    reply.clearCookie(ADMIN_SESSION_COOKIE, cookieOptions);
    if (isForm(request) || wantsHtml(request)) return reply.code(303).header('location', `${ADMIN_PREFIX}/login`).send();
    return reply.code(204).send();
  });

  await scope.register(async (dashboard) => {
    // bull-board answers its own errors (`{"error", "details"}`, with a stack on 500): keep the contract's shape.
    enforceContractErrorShape(dashboard);
    dashboard.addHook('onRequest', async (request, reply) => {
      const principal: Principal | null =
        verifyBearer(request.headers.authorization) ?? sessions.verify(request.cookies[ADMIN_SESSION_COOKIE]);
      if (principal === null) return refuseUnauthenticated(request, reply);
      request.principal = principal;
      if (READ_METHODS.has(request.method)) return;
      if (!admins.has(principal.actor)) {
        return sendError(reply, { code: 'FORBIDDEN', message: `actor ${principal.actor} may only view the queues; changes need an admin actor (ADMIN_ACTORS)` });
      }
      request.log.info({ actor: principal.actor, method: request.method, route: request.routeOptions.url }, 'admin queue action');
    });

    const serverAdapter = new FastifyAdapter();
    serverAdapter.setBasePath(`${ADMIN_PREFIX}/queues`);
    createBullBoard({
      queues: Object.values(deps.queues.byName).map((queue) => new BullMQAdapter(queue)),
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
  return sendError(reply, { code: 'UNAUTHENTICATED', message: `a valid bearer token or a session from POST ${ADMIN_PREFIX}/login is required` });
};
