import { createHash, timingSafeEqual } from 'node:crypto';
import type { GovernanceToken } from '@valhalla/core';
import type { FastifyInstance, FastifyRequest } from 'fastify';
import { ApiError } from './errors.js';

/** Who made a request: the actor of the bearer token that matched, and a stable id of that token (rate limiting). */
export type Principal = { readonly actor: string; readonly tokenId: string };

declare module 'fastify' {
  interface FastifyRequest {
    /** Set by the auth hook on every /api/* request that presented a valid token; null elsewhere. */
    principal: Principal | null;
  }
}

const sha256 = (value: string): Buffer => createHash('sha256').update(value, 'utf8').digest();

/** `Bearer <token>`: one scheme (case-insensitive), one space run, a token of visible ASCII. */
const BEARER = /^Bearer +([\x21-\x7E]+) *$/i;

/**
 * Builds the verifier for the configured tokens. Both sides are hashed to 32 bytes so `timingSafeEqual` compares
 * equal lengths, and every configured token is compared on every call, so timing reveals neither a token's length
 * nor which entry matched.
 */
export const createTokenVerifier = (tokens: readonly GovernanceToken[]) => {
  const entries = tokens.map((token, index) => ({ actor: token.actor, tokenId: `t${index}`, digest: sha256(token.token) }));
  return (authorization: string | undefined): Principal | null => {
    if (authorization === undefined) return null;
    const presented = BEARER.exec(authorization)?.[1];
    if (presented === undefined) return null;
    const digest = sha256(presented);
    let match: Principal | null = null;
    for (const entry of entries) {
      if (timingSafeEqual(entry.digest, digest) && match === null) match = { actor: entry.actor, tokenId: entry.tokenId };
    }
    return match;
  };
};

/** The principal of a request that passed the auth hook. @throws ApiError UNAUTHENTICATED when there is none. */
export const requirePrincipal = (request: FastifyRequest): Principal => {
  if (request.principal === null) throw new ApiError('UNAUTHENTICATED', 'a valid bearer token is required');
  return request.principal;
};

/**
 * Requires `Authorization: Bearer <token>` on every route of `scope` (the /api context). Runs in onRequest, before
 * the body is read, so an unauthenticated request never reaches parsing, validation or a handler.
 */
export const registerAuth = (scope: FastifyInstance, tokens: readonly GovernanceToken[]): void => {
  const verify = createTokenVerifier(tokens);
  scope.addHook('onRequest', async (request, reply) => {
    const principal = verify(request.headers.authorization);
    if (principal === null) {
      reply.header('WWW-Authenticate', 'Bearer');
      throw new ApiError('UNAUTHENTICATED', 'a valid bearer token is required (Authorization: Bearer <token>)');
    }
    request.principal = principal;
  });
};
