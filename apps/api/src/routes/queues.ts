import { readJobSummary, readQueueDepths, type JobSummary } from '@valhalla/core';
import { decodeJobFailure, QUEUES, queuesResponse, type QueueName } from '@valhalla/contract';
import type { FastifyInstance } from 'fastify';
import type { ZodTypeProvider } from 'fastify-type-provider-zod';
import { callRedis } from '../dependencyCalls.js';
import type { ApiDependencies } from '../dependencies.js';
import { errorResponses } from '../responseSchemas.js';

/** Failed jobs shown per queue, newest first (the queue dashboard has the rest). */
const FAILED_JOBS_PER_QUEUE = 20;

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
  /**
   * The newest failed jobs of one queue, read bounded: ids from the failed set (newest first), then each job's summary
   * (state, attempts, failure record; never its data, which may be anything up to Redis's 512 MB).
   */
  const readFailed = async (name: QueueName): Promise<JobSummary[]> => {
    const queue = deps.queues.byName[name];
    const ids = await queue.getRanges(['failed'], 0, FAILED_JOBS_PER_QUEUE - 1, false);
    const summaries = await Promise.all(ids.map((id) => readJobSummary(deps.redis, queue, id)));
    // A job retried or removed between the two reads is no longer failed: left out.
    return summaries.filter((summary): summary is JobSummary => summary !== undefined && summary.state === 'failed');
  };

  app.get('/queues', { schema }, async () => {
    const names = Object.values(QUEUES) as QueueName[];
    const [depths, failedPerQueue] = await callRedis('read queues', () =>
      Promise.all([readQueueDepths(deps.queues.byName), Promise.all(names.map(readFailed))]),
    );
    const failed = failedPerQueue
      .flat()
      .sort((a, b) => (b.finishedOn ?? 0) - (a.finishedOn ?? 0))
      .map((job) => ({
        id: job.id,
        queue: job.queue,
        name: job.name,
        attempts: job.attemptsMade,
        failed_at: job.finishedOn === null ? null : new Date(job.finishedOn).toISOString(),
        // The failure record the worker wrote (encodeJobFailure); a job failed without one reads as JOB_INTERRUPTED.
        error: job.failure ?? decodeJobFailure(''),
      }));
    return { queues: names.map((name) => ({ name, ...depths[name] })), failed };
  });
};
