import { isRetryableDatabaseError, pingRedis, sql, TimeoutError, withTimeout } from '@valhalla/core';
import { QUEUES, healthResponse } from '@valhalla/contract';
import type { FastifyInstance } from 'fastify';
import type { ZodTypeProvider } from 'fastify-type-provider-zod';
import { z } from 'zod';
import type { ApiDependencies } from '../dependencies.js';
import { readPausedQueues } from '../pausedQueues.js';
import { errorResponse } from '../responseSchemas.js';

/** How long each dependency probe may take before it counts as down. */
const HEALTH_PROBE_TIMEOUT_MS = 1_000;

/** `ok`; `unavailable` when unreachable (refused, offline, timed out); `error` when reachable but wrong. */
type CheckResult = 'ok' | 'unavailable' | 'error';

const probe = async (what: string, check: () => Promise<boolean>, isUnreachable: (error: unknown) => boolean): Promise<CheckResult> => {
  try {
    return (await withTimeout(check(), HEALTH_PROBE_TIMEOUT_MS, what)) ? 'ok' : 'error';
  } catch (error) {
    return isUnreachable(error) ? 'unavailable' : 'error';
  }
};

/**
 * GET /health (public): PostgreSQL `SELECT 1` and Redis PING, each bounded by a short timeout, probed in parallel.
 * 200 `ok` when both answer; 200 `degraded` while PostgreSQL answers and Redis does not (the api must stay in
 * rotation: it applies engages and disables itself then, see applySafetyChange.ts); 503 `unavailable` while
 * PostgreSQL does not answer (a failover in progress included: the pool reconnects by itself once it answers again).
 */
export const healthRoutes = async (scope: FastifyInstance, deps: ApiDependencies): Promise<void> => {
  const app = scope.withTypeProvider<ZodTypeProvider>();
  const schema = {
    summary: 'Liveness of the API and its dependencies (public)',
    tags: ['operations'],
    security: [],
    response: {
      200: healthResponse,
      // The failing checks, or SHUTTING_DOWN while the server drains.
      503: z.union([healthResponse, errorResponse(503)]).describe('A dependency is down (the failing checks), or the server is shutting down'),
    },
  };
  app.get('/health', { schema }, async (request, reply) => {
    const [database, redis, pausedQueues] = await Promise.all([
      probe('database probe', async () => (await deps.pool.oneFirst(sql.unsafe`SELECT 1 AS ok`)) === 1, (error) =>
        isRetryableDatabaseError(error) || error instanceof TimeoutError,
      ),
      // The producer connection has no offline queue: while Redis is down, the probe fails at once instead of waiting.
      // On a Redis Cluster it reads a key of the queues' slot, so it asks the primary that holds the queues.
      probe('redis probe', () => pingRedis(deps.redis, deps.queues.byName[QUEUES.governance].toKey('meta')), () => true),
      readPausedQueues(deps),
    ]);
    if (pausedQueues !== null && pausedQueues.length > 0) request.log.warn({ pausedQueues }, 'queues are paused');
    const status = database !== 'ok' ? ('unavailable' as const) : redis !== 'ok' ? ('degraded' as const) : ('ok' as const);
    if (status !== 'ok') request.log.warn({ database, redis }, status === 'degraded' ? 'health check degraded' : 'health check failed');
    reply.code(status === 'unavailable' ? 503 : 200);
    return { status, checks: { database, redis }, release: deps.config.release, paused_queues: pausedQueues };
  });
};
