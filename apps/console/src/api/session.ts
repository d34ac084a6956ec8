import { ApiError } from './ApiError.js';
import { request, setCredentials } from './http.js';
import type { Role, RunbookStatus, Session } from './types.js';

/** The api's session endpoints (README.md, "Roles and sessions": the console's session cookie). */
const SESSION_PATHS = { session: '/api/session', signOut: '/api/session' } as const;

type SessionAnswer = { actor: string; role: Role; csrfToken: string };

const fromAnswer = (answer: SessionAnswer): Session => {
  setCredentials({ kind: 'session', csrfToken: answer.csrfToken });
  return { actor: answer.actor, role: answer.role, csrfToken: answer.csrfToken };
};

/**
 * Exchanges a token for a session cookie. An api without session endpoints (404) gets the token as a bearer kept in
 * memory; the actor is then unknown to the console until the api names it, and the role is taken as operator
 * (the only role such an api has).
 * @throws ApiError UNAUTHENTICATED for an unknown token, or whatever the api answers.
 */
export const signIn = async (token: string): Promise<Session> => {
  try {
    return fromAnswer(await request<SessionAnswer>('POST', SESSION_PATHS.session, { token }));
  } catch (error) {
    // The pair as GOVERNANCE_TOKENS and .dev/dev-token hold it (`actor:token`), as the CLI's VALHALLA_TOKEN accepts:
    // the token is what follows the first colon (an actor name has none). The whole text was tried first, since a
    // token may contain a colon itself.
    const colon = token.indexOf(':');
    if (error instanceof ApiError && error.status === 401 && colon > 0 && colon < token.length - 1) {
      return fromAnswer(await request<SessionAnswer>('POST', SESSION_PATHS.session, { token: token.slice(colon + 1) }));
    }
    if (!(error instanceof ApiError) || error.status !== 404) throw error;
  }
  setCredentials({ kind: 'bearer', token });
  try {
    await request<RunbookStatus>('GET', '/api/governance/runbook/status');
  } catch (error) {
    setCredentials(null);
    throw error;
  }
  return { actor: 'token holder', role: 'operator', csrfToken: null };
};

/** The session of the cookie this browser already has, or null when there is none (or it was revoked). */
export const resumeSession = async (): Promise<Session | null> => {
  try {
    return fromAnswer(await request<SessionAnswer>('GET', SESSION_PATHS.session));
  } catch (error) {
    if (error instanceof ApiError && (error.status === 401 || error.status === 404 || error.status === 405)) return null;
    throw error;
  }
};

/** Revokes the session on the server (best effort when it is already gone) and forgets the credentials. */
export const signOut = async (session: Session): Promise<void> => {
  try {
    if (session.csrfToken !== null) await request<void>('DELETE', SESSION_PATHS.signOut);
  } finally {
    setCredentials(null);
  }
};
