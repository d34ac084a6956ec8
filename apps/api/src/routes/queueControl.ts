import { QUEUE_EVENTS, recordQueueEvent } from '@valhalla/core';
import { QUEUES, type QueueName } from '@valhalla/contract';
import type { FastifyInstance } from 'fastify';
import type { ZodTypeProvider } from 'fastify-type-provider-zod';
import { z } from 'zod';
import { requirePrincipal } from '../auth.js';
import { callDatabase, callRedis } from '../dependencyCalls.js';
import type { ApiDependencies } from '../dependencies.js';
import { ApiError } from '../errors.js';
import { errorResponses } from '../responseSchemas.js';
import { reasonBody } from '../schemas.js';

const params = z.strictObject({ name: z.enum(Object.values(QUEUES) as [QueueName, ...QueueName[]]) });
const queueState = z.object({ queue: z.string(), paused: z.boolean() }).meta({ id: 'QueueState' });

/**
 * POST /api/queues/:name/pause and /resume `{"reason"}`: the only way to pause a queue over HTTP (the dashboard is
 * read-only), for operators in ADMIN_ACTORS. Audited like a job retry: the event is committed first, then Redis is
 * told; if Redis then fails, a `queue.control_failed` event says so and the client gets 503. While the governance
 * queue is paused, /health and the runbook status name it. The safety lane (`governance-safety`) cannot be paused.
 */
export const queueControlRoutes = async (scope: FastifyInstance, deps: ApiDependencies): Promise<void> => {
  const app = scope.withTypeProvider<ZodTypeProvider>();
  const admins: ReadonlySet<string> = new Set(deps.config.adminActors);
  const rateLimit = { max: deps.config.rateLimitPerMinute, timeWindow: 60_000 };

  for (const step of ['pause', 'resume'] as const) {
    app.post(
      `/queues/:name/${step}`,
      {
        schema: {
          tags: ['queues'],
          summary: step === 'pause' ? 'Pause a queue (audited; ADMIN_ACTORS)' : 'Resume a queue (audited; ADMIN_ACTORS)',
          params,
          body: reasonBody,
          response: { 200: queueState, ...errorResponses(400, 401, 403, 413, 415, 429, 503) },
        },
        config: { rateLimit },
      },
      async (request) => {
        const { actor } = requirePrincipal(request);
        if (!admins.has(actor)) throw new ApiError('FORBIDDEN', `actor ${actor} may not ${step} queues; that needs an admin actor (ADMIN_ACTORS)`);
        const { name } = request.params;
        if (step === 'pause' && name === QUEUES.governanceSafety) {
          throw new ApiError(
            'FORBIDDEN',
            `queue ${QUEUES.governanceSafety} cannot be paused: engages and disables must always run (workers resume it if another client pauses it); pause ${QUEUES.governance} to hold other changes`,
          );
        }
        const queue = deps.queues.byName[name];
        const event = { queue: name, actor, reason: request.body.reason, requestId: request.id };
        const recorded = await callDatabase(() => recordQueueEvent(deps.pool, deps.config.auditKeyring, { ...event, action: step === 'pause' ? QUEUE_EVENTS.paused : QUEUE_EVENTS.resumed }));
        try {
          await callRedis(`${step} queue`, () => (step === 'pause' ? queue.pause() : queue.resume()));
        } catch (error) {
          await callDatabase(() => recordQueueEvent(deps.pool, deps.config.auditKeyring, { ...event, action: QUEUE_EVENTS.failed, details: { failed: step, audit_id: recorded.id } })).catch(
            (auditError: unknown) => request.log.error({ err: auditError }, 'could not record the failed queue control'),
          );
          throw error;
        }
        request.log.warn({ actor, queue: name, auditId: recorded.id }, `queue ${step}d`);
        return { queue: name, paused: step === 'pause' };
      },
    );
  }
};
