import { randomUUID } from 'node:crypto';
import { JOB_CATALOG, type JobName, type JobPayloads } from '@valhalla/core';
import type { FastifyReply, FastifyRequest } from 'fastify';
import { callRedis } from './dependencyCalls.js';
import type { ApiDependencies } from './dependencies.js';
import { claimJobIdForKey, readIdempotencyKey } from './idempotency.js';
import type { JobAccepted } from './schemas.js';

/**
 * The one path from an accepted request to a queued job. With an Idempotency-Key the key is claimed in PostgreSQL
 * first and the job is enqueued under the key's deterministic id; a retry of the same request (after a 503, or a
 * replay after the BullMQ job was removed) enqueues that id again, which is safe: BullMQ keeps one job per id, and
 * the worker applies each job id at most once (executed-jobs table, verification runs keyed by job id).
 * Without a key, a uuid: BullMQ's own counters are per queue, so two queues could hand out the same id.
 * @throws ApiError IDEMPOTENCY_CONFLICT, DEPENDENCY_UNAVAILABLE, VALIDATION_FAILED (malformed key).
 */
export const enqueueJob = async <N extends JobName>(
  deps: ApiDependencies,
  request: FastifyRequest,
  reply: FastifyReply,
  job: { name: N; payload: JobPayloads[N]; body: unknown },
): Promise<JobAccepted> => {
  const key = readIdempotencyKey(request);
  let jobId: string = randomUUID();
  if (key !== undefined) {
    const claimed = await claimJobIdForKey(deps.pool, {
      actor: job.payload.actor,
      key,
      method: request.method,
      route: request.routeOptions.url ?? request.url,
      queue: JOB_CATALOG[job.name].queue,
      body: job.body,
    });
    jobId = claimed.jobId;
    if (claimed.replayed) reply.header('Idempotent-Replayed', 'true');
  }
  await callRedis(`enqueue ${job.name}`, () => deps.queues.enqueue(job.name, job.payload, { jobId }));
  request.log.info({ jobId, jobName: job.name, actor: job.payload.actor }, 'job enqueued');
  reply.code(202);
  return { jobId, status: 'queued' };
};
