import type { FastifyReply } from 'fastify';
import { SESSION_COOKIE } from './sessionStore.js';

/**
 * One cookie for /api, the stream, the console and the dashboard: Path=/, HttpOnly (no script reads it), Secure
 * (browsers accept Secure cookies from http://localhost too), SameSite=Strict (never sent on a cross-site request).
 */
const COOKIE_OPTIONS = { path: '/', httpOnly: true, secure: true, sameSite: 'strict' as const };

export const setSessionCookie = (reply: FastifyReply, secret: string, expiresAt: Date): void => {
  reply.setCookie(SESSION_COOKIE, secret, { ...COOKIE_OPTIONS, expires: expiresAt });
};

export const clearSessionCookie = (reply: FastifyReply): void => {
  reply.clearCookie(SESSION_COOKIE, COOKIE_OPTIONS);
};
