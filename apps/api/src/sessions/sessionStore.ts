import { createHash, createHmac, randomBytes } from 'node:crypto';
import { sql, type CommonQueryMethods } from '@valhalla/core';
import { z } from 'zod';

/** How long a console or dashboard session lasts. */
const SESSION_TTL_MS = 8 * 60 * 60 * 1000;
/** The one session cookie of the console, the dashboard and /api. */
export const SESSION_COOKIE = 'valhalla_session';

/** A session secret: 32 random bytes, base64url (43 characters). Anything else is not looked up. */
const SECRET = /^[A-Za-z0-9_-]{43}$/;

const sha256Hex = (value: string): string => createHash('sha256').update(value, 'utf8').digest('hex');

/** The stored id of a session: the sha256 of its secret (the secret itself is never stored). */
export const sessionIdOf = (secret: string): string => sha256Hex(secret);

/**
 * The CSRF token of a session, derived from its secret: the console reads it from the sign-in answer (or GET
 * /api/session) and echoes it in X-CSRF-Token. A cross-site page can neither read it nor compute it.
 */
export const csrfTokenOf = (secret: string): string => createHmac('sha256', secret).update('valhalla-csrf-v1').digest('base64url');

const sessionRow = z.object({ actor: z.string(), role: z.string(), token_digest: z.string(), expires_at: z.string() });
export type SessionRow = z.infer<typeof sessionRow>;

/** Stores a new session; returns its secret (the cookie value), which is never stored. */
export const createSession = async (
  db: CommonQueryMethods,
  session: { actor: string; role: string; tokenDigest: string; ttlMs?: number },
): Promise<{ secret: string; expiresAt: Date }> => {
  const secret = randomBytes(32).toString('base64url');
  const expiresAt = new Date(Date.now() + (session.ttlMs ?? SESSION_TTL_MS));
  await db.query(sql.unsafe`
    INSERT INTO public.api_sessions (id_hash, actor, role, token_digest, expires_at)
    VALUES (${sha256Hex(secret)}, ${session.actor}, ${session.role}, ${session.tokenDigest}, ${expiresAt.toISOString()})
  `);
  return { secret, expiresAt };
};

/** The live (not revoked, not expired) session of a cookie value, or null. */
export const findSession = async (db: CommonQueryMethods, secret: string | undefined): Promise<SessionRow | null> => {
  if (secret === undefined || !SECRET.test(secret)) return null;
  return db.maybeOne(sql.type(sessionRow)`
    SELECT actor, role, token_digest, to_char(expires_at AT TIME ZONE 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS.MS"Z"') AS expires_at
    FROM public.api_sessions
    WHERE id_hash = ${sha256Hex(secret)} AND revoked_at IS NULL AND expires_at > now()
  `);
};

/** Of the given session ids, the ones still live (not revoked, not expired): what open streams are checked against. */
export const findLiveSessionIds = async (db: CommonQueryMethods, ids: readonly string[]): Promise<Set<string>> =>
  new Set(
    await db.anyFirst(sql.type(z.object({ id_hash: z.string() }))`
      SELECT id_hash FROM public.api_sessions
      WHERE id_hash = ANY(${sql.array(ids, 'text')}) AND revoked_at IS NULL AND expires_at > now()
    `),
  );

/** Revokes a session on every api instance (they all read this table). Also drops sessions expired a day ago. */
export const revokeSession = async (db: CommonQueryMethods, secret: string): Promise<void> => {
  await db.query(sql.unsafe`UPDATE public.api_sessions SET revoked_at = now() WHERE id_hash = ${sha256Hex(secret)} AND revoked_at IS NULL`);
  await db.query(sql.unsafe`DELETE FROM public.api_sessions WHERE expires_at < now() - interval '1 day'`);
};
