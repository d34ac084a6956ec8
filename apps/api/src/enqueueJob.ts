import { randomUUID } from 'node:crypto';
import { JOB_CATALOG, type JobName, type JobPayloads } from '@valhalla/core';
import type { FastifyReply, FastifyRequest } from 'fastify';
import { callRedis } from './dependencyCalls.js';
import type { ApiDependencies } from './dependencies.js';
import { claimJobIdForKey, readIdempotencyKey } from './idempotency.js';
import type { JobAccepted, JobCompleted } from './schemas.js';

/**
 * The one path from an accepted request to a queued job. With an Idempotency-Key the key is claimed in PostgreSQL
 * first and the job is enqueued under the key's deterministic id. A replay whose job already executed is answered
 * 200 `{"jobId", "status": "completed", "result"}` from PostgreSQL (the claim statement reads it), whether or not the
 * job is still in Redis. A replay whose job has not executed (after a 503, or Redis lost the job) enqueues that id
 * again, which is safe: BullMQ keeps one job per id, and the worker takes a non-counter job id as the change's
 * identity, so it applies it at most once whatever the job's creation time.
 * Without a key, a uuid: BullMQ's own counters are per queue and restart when Redis loses its data.
 * @throws ApiError IDEMPOTENCY_CONFLICT, DEPENDENCY_UNAVAILABLE, VALIDATION_FAILED (malformed key).
 */
export const enqueueJob = async <N extends JobName>(
  deps: ApiDependencies,
  request: FastifyRequest,
  reply: FastifyReply,
  job: { name: N; payload: JobPayloads[N]; body: unknown },
): Promise<JobAccepted | JobCompleted> => {
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
    if (claimed.replayed && claimed.executedResult !== null) {
      request.log.info({ jobId, jobName: job.name }, 'idempotent replay of an executed job; answered from PostgreSQL');
      reply.code(200);
      return { jobId, status: 'completed', result: claimed.executedResult };
    }
  }
  await callRedis(`enqueue ${job.name}`, () => deps.queues.enqueue(job.name, job.payload, { jobId }));
  request.log.info({ jobId, jobName: job.name, actor: job.payload.actor }, 'job enqueued');
  reply.code(202);
  return { jobId, status: 'queued' };
};
