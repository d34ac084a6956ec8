import { ROLES, type DatabasePool } from '@valhalla/core';
import type { TokenVerifier } from '../auth.js';
import { callDatabase } from '../dependencyCalls.js';
import { ApiError } from '../errors.js';
import { createSession, csrfTokenOf } from './sessionStore.js';

/** Roles that may hold a browser session: people. Applications and Alertmanager use their bearer tokens. */
const SESSION_ROLES: ReadonlySet<string> = new Set([ROLES.operator, ROLES.reader]);

export type SignedIn = { actor: string; role: string; csrfToken: string; secret: string; expiresAt: Date };

/**
 * Exchanges a token for a new server-side session (the console's and the dashboard's sign-in).
 * @throws ApiError UNAUTHENTICATED (unknown token), FORBIDDEN (app or alerts token), DEPENDENCY_UNAVAILABLE.
 */
export const signIn = async (pool: DatabasePool, verify: TokenVerifier, token: string): Promise<SignedIn> => {
  const principal = verify.token(token);
  if (principal === null) throw new ApiError('UNAUTHENTICATED', 'the token is not valid');
  if (!SESSION_ROLES.has(principal.role)) {
    throw new ApiError('FORBIDDEN', `a ${principal.role} token cannot open a session; send it as a bearer token`);
  }
  const { secret, expiresAt } = await callDatabase(() =>
    createSession(pool, { actor: principal.actor, role: principal.role, tokenDigest: principal.tokenDigest }),
  );
  return { actor: principal.actor, role: principal.role, csrfToken: csrfTokenOf(secret), secret, expiresAt };
};
