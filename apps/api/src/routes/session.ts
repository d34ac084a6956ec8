import { sessionResponse } from '@valhalla/contract';
import { ROLE_TOKEN_VARIABLES, type Role } from '@valhalla/core';
import type { FastifyInstance } from 'fastify';
import type { ZodTypeProvider } from 'fastify-type-provider-zod';
import { z } from 'zod';
import { createTokenVerifier, requirePrincipal } from '../auth.js';
import { callDatabase } from '../dependencyCalls.js';
import type { ApiDependencies } from '../dependencies.js';
import { errorResponses } from '../responseSchemas.js';
import { clearSessionCookie, setSessionCookie } from '../sessions/sessionCookie.js';
import { signIn } from '../sessions/signIn.js';
import { revokeSession, sessionIdOf } from '../sessions/sessionStore.js';

/** Sign-in attempts per minute per client address, whatever RATE_LIMIT_PER_MINUTE allows elsewhere. */
const SIGN_IN_ATTEMPTS_PER_MINUTE = 30;
const ALL_ROLES = Object.keys(ROLE_TOKEN_VARIABLES) as Role[];

const signInBody = z.strictObject({ token: z.string().min(1).max(1000) });

/**
 * The console's session: POST /api/session `{"token"}` signs in (operator or reader token) and sets the HttpOnly
 * session cookie; GET /api/session says who is signed in (and the CSRF token again, after a page reload); DELETE
 * /api/session revokes the session in PostgreSQL (every api instance then refuses the cookie), ends the state streams
 * opened with it (here at once, on other instances by their next heartbeat) and clears the cookie.
 */
export const sessionRoutes = async (scope: FastifyInstance, deps: ApiDependencies): Promise<void> => {
  const app = scope.withTypeProvider<ZodTypeProvider>();
  const verify = createTokenVerifier(deps.config.roleTokens);
  const tags = ['session'];

  app.post(
    '/session',
    {
      schema: { tags, summary: 'Sign in: exchange a token for a session cookie', security: [], body: signInBody, response: { 200: sessionResponse, ...errorResponses(400, 401, 403, 413, 415, 429, 503) } },
      // Signing in again makes another session: harmless, so a key is accepted and changes nothing.
      config: { public: true, idempotencyKey: 'not-needed', rateLimit: { max: Math.min(deps.config.rateLimitPerMinute, SIGN_IN_ATTEMPTS_PER_MINUTE), timeWindow: 60_000 } },
    },
    async (request, reply) => {
      const session = await signIn(deps.pool, verify, request.body.token);
      setSessionCookie(reply, session.secret, session.expiresAt);
      request.log.info({ actor: session.actor, role: session.role }, 'session opened');
      return { actor: session.actor, role: session.role as Role, csrfToken: session.csrfToken };
    },
  );

  app.get(
    '/session',
    { schema: { tags, summary: 'Who is signed in', response: { 200: sessionResponse, ...errorResponses(401, 403, 503) } }, config: { roles: ALL_ROLES } },
    async (request) => {
      const principal = requirePrincipal(request);
      return { actor: principal.actor, role: principal.role, csrfToken: principal.session?.csrfToken ?? null };
    },
  );

  app.delete(
    '/session',
    { schema: { tags, summary: 'Sign out: revoke the session everywhere', response: errorResponses(401, 403, 503) }, config: { roles: ALL_ROLES } },
    async (request, reply) => {
      const principal = requirePrincipal(request);
      if (principal.session !== null) {
        const { secret } = principal.session;
        await callDatabase(() => revokeSession(deps.pool, secret));
        scope.liveStreams.endSession(sessionIdOf(secret));
        request.log.info({ actor: principal.actor }, 'session revoked');
      }
      clearSessionCookie(reply);
      return reply.code(204).send();
    },
  );
};
