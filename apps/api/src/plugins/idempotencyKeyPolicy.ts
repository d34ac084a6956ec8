import type { FastifyInstance } from 'fastify';
import { ApiError } from '../errors.js';

/**
 * What a write route does with an `Idempotency-Key` header:
 * - `honoured`: the key is claimed in PostgreSQL with the request it came with; a repeat answers the first outcome and
 *   the key with another request is 409 IDEMPOTENCY_CONFLICT (the change routes, verify, change-request steps);
 * - `not-needed`: repeating the request is harmless by itself, so the key is accepted and changes nothing (sign-in,
 *   OFREP evaluations, the Alertmanager hook, whose keys follow from the alerts);
 * - `refused` (the default for a write): the route cannot replay its first answer, so a key is 400 VALIDATION_FAILED
 *   naming the header, rather than silently promising what the route does not do (a job retry, a queue pause, a
 *   notification subscription, whose secret is shown only once).
 */
type IdempotencyKeyPolicy = 'honoured' | 'not-needed' | 'refused';

declare module 'fastify' {
  interface FastifyContextConfig {
    /** What this route does with an Idempotency-Key (see IdempotencyKeyPolicy); writes default to `refused`. */
    idempotencyKey?: IdempotencyKeyPolicy;
  }
}

const WRITE_METHODS: ReadonlySet<string> = new Set(['POST', 'PUT', 'PATCH', 'DELETE']);

/** Refuses an Idempotency-Key on the write routes that cannot honour it (before the body is validated). */
export const registerIdempotencyKeyPolicy = (app: FastifyInstance): void => {
  app.addHook('preValidation', async (request) => {
    if (!WRITE_METHODS.has(request.method) || request.headers['idempotency-key'] === undefined) return;
    const policy = request.routeOptions.config.idempotencyKey ?? 'refused';
    if (policy !== 'refused') return;
    throw new ApiError('VALIDATION_FAILED', `${request.method} ${request.routeOptions.url ?? request.url} does not take an Idempotency-Key`, {
      details: [{ field: 'Idempotency-Key', message: 'this route cannot replay its first answer; send the request without the header' }],
    });
  });
};
