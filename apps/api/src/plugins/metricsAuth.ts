import { createHash, timingSafeEqual } from 'node:crypto';

const digest = (value: string) => createHash('sha256').update(value, 'utf8').digest();

/**
 * The check behind METRICS_TOKEN: true when no token is configured (public /metrics) or the Authorization header is
 * `Bearer <the token>`. Compared as SHA-256 digests in constant time.
 */
export const createMetricsAuthorizer = (token: string | undefined) => {
  const expected = token === undefined ? undefined : digest(token);
  return (authorization: string | undefined): boolean => {
    if (expected === undefined) return true;
    const match = /^Bearer ([^\s]+)$/.exec(authorization ?? '');
    return match?.[1] !== undefined && timingSafeEqual(digest(match[1]), expected);
  };
};
