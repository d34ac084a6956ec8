import { QUEUES, readQueueDepths, type QueueName } from '@valhalla/core';
import type { FastifyInstance } from 'fastify';
import type { ZodTypeProvider } from 'fastify-type-provider-zod';
import { z } from 'zod';
import { callRedis } from '../dependencyCalls.js';
import type { ApiDependencies } from '../dependencies.js';
import { parseFailedReason } from '../errors.js';
import { errorResponses } from '../responseSchemas.js';

/** Failed jobs shown per queue, newest first (the queue dashboard has the rest). */
const FAILED_JOBS_PER_QUEUE = 20;
/** Failures a retry cannot change (the same rule POST /api/jobs/:id/retry applies): the job's outcome is final. */
const FINAL_FAILURE_CODES: ReadonlySet<string> = new Set(['PRECONDITION_FAILED', 'INVALID_PAYLOAD']);

const depth = z.object({ waiting: z.number().int(), active: z.number().int(), delayed: z.number().int(), failed: z.number().int() });
const queuesResponse = z
  .object({
    queues: z.array(depth.extend({ name: z.string() })),
    failed: z.array(
      z.object({
        id: z.string(),
        queue: z.string(),
        name: z.string(),
        attempts: z.number().int(),
        failed_at: z.string().nullable(),
        error: z.object({ code: z.string(), message: z.string(), final: z.boolean() }),
      }),
    ),
  })
  .meta({ id: 'QueuesOverview' });

/**
 * GET /api/queues: depth per queue and state (the same definition as `valhalla_queue_jobs`) and the newest failed
 * jobs with their typed error, for the console's queue screen and its audited retry.
 */
export const queueRoutes = async (scope: FastifyInstance, deps: ApiDependencies): Promise<void> => {
  const app = scope.withTypeProvider<ZodTypeProvider>();
  const schema = {
    summary: 'Queue depth per queue and state, and the newest failed jobs',
    tags: ['jobs'],
    response: { 200: queuesResponse, ...errorResponses(401, 503) },
  };
  app.get('/queues', { schema }, async () => {
    const names = Object.values(QUEUES) as QueueName[];
    const [depths, failedPerQueue] = await callRedis('read queues', () =>
      Promise.all([readQueueDepths(deps.queues.byName), Promise.all(names.map((name) => deps.queues.byName[name].getFailed(0, FAILED_JOBS_PER_QUEUE - 1)))]),
    );
    const failed = failedPerQueue
      .flat()
      .filter((job) => job !== undefined && job.id !== undefined)
      .sort((a, b) => (b.finishedOn ?? 0) - (a.finishedOn ?? 0))
      .map((job) => {
        const error = parseFailedReason(job.failedReason ?? 'failed without a reason');
        return {
          id: job.id ?? '',
          queue: job.queueName,
          name: job.name,
          attempts: job.attemptsMade,
          failed_at: job.finishedOn === undefined ? null : new Date(job.finishedOn).toISOString(),
          error: { ...error, final: FINAL_FAILURE_CODES.has(error.code) },
        };
      });
    return { queues: names.map((name) => ({ name, ...depths[name] })), failed };
  });
};
