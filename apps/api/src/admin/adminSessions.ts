import { createHash, createHmac, timingSafeEqual } from 'node:crypto';
import type { GovernanceToken } from '@valhalla/core';
import type { Principal } from '../auth.js';

/** How long a dashboard login lasts. */
const ADMIN_SESSION_TTL_MS = 8 * 60 * 60 * 1000;

const VERSION = 'v1';
const SESSION = /^v1\.([0-9]{1,12})\.([A-Za-z0-9_-]{43})$/;

const sha256 = (value: string): Buffer => createHash('sha256').update(value, 'utf8').digest();

/**
 * Browser sessions for the queue dashboard, made from the same tokens as the bearer auth. A session value is
 * `v1.<expiry, epoch seconds>.<HMAC-SHA256 of the expiry, keyed by the SHA-256 of the token>`: it holds neither the
 * token nor the actor, it expires, it is valid on every api instance that has the same tokens (no server-side
 * store), and removing a token from GOVERNANCE_TOKENS revokes its sessions. Every configured token is tried on every
 * check, so timing does not reveal which one matched.
 */
export const createAdminSessions = (tokens: readonly GovernanceToken[], options: { ttlMs?: number; now?: () => number } = {}) => {
  const ttlMs = options.ttlMs ?? ADMIN_SESSION_TTL_MS;
  const now = options.now ?? Date.now;
  const entries = tokens.map((token, index) => ({ actor: token.actor, tokenId: `t${index}`, key: sha256(token.token) }));
  const mac = (key: Buffer, expires: number) => createHmac('sha256', key).update(`valhalla-admin-session.${VERSION}.${expires}`).digest();

  /** The principal whose token this is, or null; constant work whatever matches. */
  const matchToken = (token: string): { principal: Principal; key: Buffer } | null => {
    const digest = sha256(token);
    let match: { principal: Principal; key: Buffer } | null = null;
    for (const entry of entries) {
      if (timingSafeEqual(entry.key, digest) && match === null) match = { principal: { actor: entry.actor, tokenId: entry.tokenId }, key: entry.key };
    }
    return match;
  };

  return {
    /** A new session for a token, or null when the token is unknown. */
    issue: (token: string): { value: string; principal: Principal; expiresAt: Date } | null => {
      const match = matchToken(token);
      if (match === null) return null;
      const expires = Math.floor((now() + ttlMs) / 1000);
      return { value: `${VERSION}.${expires}.${mac(match.key, expires).toString('base64url')}`, principal: match.principal, expiresAt: new Date(expires * 1000) };
    },
    /** The principal of a session value, or null when it is malformed, expired or made with no configured token. */
    verify: (value: string | undefined): Principal | null => {
      const parsed = value === undefined ? null : SESSION.exec(value);
      if (parsed === null) return null;
      const expires = Number(parsed[1]);
      if (expires * 1000 <= now()) return null;
      const presented = Buffer.from(parsed[2] ?? '', 'base64url');
      if (presented.length !== 32) return null;
      let match: Principal | null = null;
      for (const entry of entries) {
        if (timingSafeEqual(mac(entry.key, expires), presented) && match === null) match = { actor: entry.actor, tokenId: entry.tokenId };
      }
      return match;
    },
  };
};

export type AdminSessions = ReturnType<typeof createAdminSessions>;
