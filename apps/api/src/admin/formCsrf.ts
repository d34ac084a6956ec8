import { createHash, randomBytes, timingSafeEqual } from 'node:crypto';
import type { FastifyReply, FastifyRequest } from 'fastify';
import { ApiError } from '../errors.js';

/**
 * The login form's double-submit token: set as this cookie by GET /admin/login and sent back as the form's hidden
 * `csrf` field. `__Host-` keeps a sibling subdomain from setting it (the browser accepts it only Secure, on Path=/, with
 * no Domain); SameSite=Strict keeps a cross-site form from sending it.
 */
const LOGIN_CSRF_COOKIE = '__Host-valhalla_login_csrf';
/** How long a login form stays valid. */
const LOGIN_CSRF_TTL_SECONDS = 60 * 60;

/** The values of Sec-Fetch-Site a form post of this site's own pages carries (`none`: typed or bookmarked). */
const SAME_ORIGIN_FETCH_SITES: ReadonlySet<string> = new Set(['same-origin', 'none']);

const digest = (value: string): Buffer => createHash('sha256').update(value, 'utf8').digest();

/** Compares two secrets in constant time (as digests, so lengths do not show). */
export const sameSecret = (a: string, b: string): boolean => timingSafeEqual(digest(a), digest(b));

/** Issues a fresh login-form token: sets its cookie and returns the value for the form's hidden field. */
export const issueLoginCsrf = (reply: FastifyReply): string => {
  const token = randomBytes(32).toString('base64url');
  reply.setCookie(LOGIN_CSRF_COOKIE, token, { path: '/', httpOnly: true, secure: true, sameSite: 'strict', maxAge: LOGIN_CSRF_TTL_SECONDS });
  return token;
};

/** Whether the form's `csrf` field is the token of this browser's login-form cookie. */
export const loginCsrfMatches = (request: FastifyRequest, presented: unknown): boolean => {
  const expected = request.cookies[LOGIN_CSRF_COOKIE];
  return typeof presented === 'string' && presented.length > 0 && expected !== undefined && sameSecret(presented, expected);
};

const originHost = (origin: string): string | null => {
  try {
    return new URL(origin).host;
  } catch {
    return null;
  }
};

/**
 * Refuses a request a browser sent from another site: `Sec-Fetch-Site` other than same-origin (or none), or an
 * `Origin` that is not this server's own (`null` included). A request with neither header (curl, scripts, old
 * browsers) passes here; the form's double-submit token and the session's CSRF token are checked on their own.
 * @throws ApiError FORBIDDEN naming the header.
 */
export const refuseCrossSite = (request: FastifyRequest, route: string): void => {
  const fetchSite = request.headers['sec-fetch-site'];
  if (typeof fetchSite === 'string' && !SAME_ORIGIN_FETCH_SITES.has(fetchSite)) {
    throw new ApiError('FORBIDDEN', `${route} accepts requests from this site's own pages only`, {
      details: [{ field: 'Sec-Fetch-Site', message: `${fetchSite} is not same-origin` }],
    });
  }
  const origin = request.headers.origin;
  // URL drops a default port from the origin; a Host header may carry one.
  if (origin !== undefined && originHost(origin) !== request.host.replace(/:(80|443)$/, '')) {
    throw new ApiError('FORBIDDEN', `${route} accepts requests from this site's own pages only`, {
      details: [{ field: 'Origin', message: `${origin.slice(0, 200)} is not this server's origin` }],
    });
  }
};
