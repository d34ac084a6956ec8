import { createHash, timingSafeEqual } from 'node:crypto';
import { ROLES, type DatabasePool, type Role, type RoleToken } from '@valhalla/core';
import type { FastifyInstance, FastifyRequest } from 'fastify';
import { callDatabase } from './dependencyCalls.js';
import { ApiError } from './errors.js';
import { csrfTokenOf, findSession, SESSION_COOKIE } from './sessions/sessionStore.js';

/**
 * Who made a request: the actor and role of the credential that matched, a stable id of that credential (rate
 * limiting), and, when a session cookie authenticated the request, that session's secret and CSRF token.
 */
export type Principal = {
  readonly actor: string;
  readonly role: Role;
  readonly tokenId: string;
  readonly session: { readonly secret: string; readonly csrfToken: string; readonly expiresAt: string } | null;
};

/** The roles that may call the live endpoint and the state stream: `config: { roles: LIVE_STATE_ROLES }`. */
export const LIVE_STATE_ROLES: readonly Role[] = [ROLES.operator, ROLES.reader, ROLES.app];
/**
 * Whether a role is shown who made the last change and why (`changed_by`, `reason`) on the live endpoint, the stream
 * and OFREP: operators and readers, who may read the audit log anyway; not app tokens (a reason can carry incident
 * details that a service obeying the switch has no need for).
 */
export const seesChangeDetails = (role: Role | undefined): boolean => role === ROLES.operator || role === ROLES.reader;
/** Default for GET/HEAD under /api: operators and readers. */
export const READ_ROLES: readonly Role[] = [ROLES.operator, ROLES.reader];
/** Default for every other method under /api: operators only. */
export const WRITE_ROLES: readonly Role[] = [ROLES.operator];

declare module 'fastify' {
  interface FastifyRequest {
    /** Set by the auth hook on every /api/* request that presented a valid credential; null elsewhere. */
    principal: Principal | null;
  }
  interface FastifyContextConfig {
    /** The roles that may call this route (checked in the one auth hook); default READ_ROLES or WRITE_ROLES. */
    roles?: readonly Role[];
    /** No credential needed (the sign-in route). */
    public?: boolean;
  }
}

const sha256 = (value: string): Buffer => createHash('sha256').update(value, 'utf8').digest();

/** `Bearer <token>`: one scheme (case-insensitive), one space run, a token of visible ASCII. */
const BEARER = /^Bearer +([\x21-\x7E]+) *$/i;
/** An `X-API-Key` value: a token of visible ASCII, nothing around it. */
const API_KEY = /^[\x21-\x7E]+$/;
const SAFE_METHODS: ReadonlySet<string> = new Set(['GET', 'HEAD', 'OPTIONS']);

/** A configured credential as the verifier holds it: never the token itself, only its digest. */
type Entry = { actor: string; role: Role; tokenId: string; digest: Buffer };

/**
 * Builds the verifier for the configured credentials of every role. Both sides are hashed to 32 bytes so
 * `timingSafeEqual` compares equal lengths, and every entry is compared on every call, so timing reveals neither a
 * token's length nor which entry matched.
 */
export const createTokenVerifier = (tokens: readonly RoleToken[]) => {
  const entries: Entry[] = tokens.map((token, index) => ({ actor: token.actor, role: token.role, tokenId: `t${index}`, digest: sha256(token.token) }));
  const byDigest = (digest: Buffer): Entry | null => {
    let match: Entry | null = null;
    for (const entry of entries) {
      if (timingSafeEqual(entry.digest, digest) && match === null) match = entry;
    }
    return match;
  };
  const toPrincipal = (entry: Entry, session: Principal['session']): Principal => ({
    actor: entry.actor,
    role: entry.role,
    tokenId: entry.tokenId,
    session,
  });
  return {
    /** The principal of a raw token (sign-in form), or null. */
    token: (token: string): (Principal & { tokenDigest: string }) | null => {
      const digest = sha256(token);
      const entry = byDigest(digest);
      return entry === null ? null : { ...toPrincipal(entry, null), tokenDigest: digest.toString('hex') };
    },
    /** The principal of an `Authorization` header, or null. */
    bearer: (authorization: string | undefined): Principal | null => {
      const presented = authorization === undefined ? undefined : BEARER.exec(authorization)?.[1];
      if (presented === undefined) return null;
      const entry = byDigest(sha256(presented));
      return entry === null ? null : toPrincipal(entry, null);
    },
    /** The principal of an `X-API-Key` header (OFREP's API-key scheme: the token itself), or null. */
    apiKey: (value: string | undefined): Principal | null => {
      if (value === undefined || !API_KEY.test(value)) return null;
      const entry = byDigest(sha256(value));
      return entry === null ? null : toPrincipal(entry, null);
    },
    /**
     * The principal of a stored session, when the credential it was made from is still configured with the same
     * role: removing a token from the environment ends its sessions.
     */
    session: (secret: string, stored: { token_digest: string; role: string; expires_at: string }): Principal | null => {
      const digest = Buffer.from(stored.token_digest, 'hex');
      if (digest.length !== 32) return null;
      const entry = byDigest(digest);
      if (entry === null || entry.role !== stored.role) return null;
      return toPrincipal(entry, { secret, csrfToken: csrfTokenOf(secret), expiresAt: stored.expires_at });
    },
  };
};
export type TokenVerifier = ReturnType<typeof createTokenVerifier>;

/** The principal of a request that passed the auth hook. @throws ApiError UNAUTHENTICATED when there is none. */
export const requirePrincipal = (request: FastifyRequest): Principal => {
  if (request.principal === null) throw new ApiError('UNAUTHENTICATED', 'a valid bearer token or session is required');
  return request.principal;
};

const sameSecret = (a: string, b: string): boolean => timingSafeEqual(sha256(a), sha256(b));

/**
 * Who the request is: a bearer token if one is presented (an invalid one is never overridden by a cookie), else the
 * session cookie, looked up in PostgreSQL so that a logout on any instance ends it everywhere.
 * @throws ApiError DEPENDENCY_UNAVAILABLE when PostgreSQL cannot be asked about a cookie.
 */
export const authenticate = async (request: FastifyRequest, verify: TokenVerifier, pool: DatabasePool): Promise<Principal | null> => {
  if (request.headers.authorization !== undefined) return verify.bearer(request.headers.authorization);
  const secret = request.cookies[SESSION_COOKIE];
  if (secret === undefined) return null;
  const stored = await callDatabase(() => findSession(pool, secret));
  return stored === null ? null : verify.session(secret, stored);
};

/**
 * The one place that decides who may call what under `scope` (the /api context). Runs in onRequest, before the
 * body is read: an unauthenticated or unauthorised request never reaches parsing, validation or a handler.
 * - 401 UNAUTHENTICATED: no valid bearer token and no live session.
 * - 403 FORBIDDEN: the role is not among the route's `config.roles` (default: operator+reader for GET, operator
 *   for writes), or a session-authenticated write lacks the session's X-CSRF-Token.
 */
export const registerAuth = (scope: FastifyInstance, options: { tokens: readonly RoleToken[]; pool: DatabasePool }): void => {
  const verify = createTokenVerifier(options.tokens);
  scope.addHook('onRequest', async (request, reply) => {
    const config = request.routeOptions.config;
    if (config.public === true) return;
    const principal = await authenticate(request, verify, options.pool);
    if (principal === null) {
      reply.header('WWW-Authenticate', 'Bearer');
      throw new ApiError('UNAUTHENTICATED', 'a valid bearer token (Authorization: Bearer <token>) or session cookie is required');
    }
    request.principal = principal;
    const safe = SAFE_METHODS.has(request.method);
    const allowed = config.roles ?? (safe ? READ_ROLES : WRITE_ROLES);
    if (!allowed.includes(principal.role)) {
      throw new ApiError('FORBIDDEN', `the ${principal.role} role may not call ${request.method} ${request.routeOptions.url ?? request.url}`);
    }
    if (principal.session !== null && !safe) {
      const presented = request.headers['x-csrf-token'];
      if (typeof presented !== 'string' || !sameSecret(presented, principal.session.csrfToken)) {
        throw new ApiError('FORBIDDEN', 'a write with a session cookie must carry the session\'s X-CSRF-Token header', {
          details: [{ field: 'X-CSRF-Token', message: 'missing or does not match the session' }],
        });
      }
    }
  });
};
