import { randomUUID } from 'node:crypto';
import { JOB_NAMES, isSafetyAction, queueForJob, type JobName, type JobPayloads } from '@valhalla/core';
import type { FastifyReply, FastifyRequest } from 'fastify';
import { applyBreakGlass, BREAK_GLASS_ENQUEUE_TIMEOUT_MS, voidUnconfirmedChange } from './breakGlass.js';
import { ApiError } from './errors.js';
import { callRedis } from './dependencyCalls.js';
import type { ApiDependencies } from './dependencies.js';
import { claimJobIdForKey, keyedJobId, readIdempotencyKey } from './idempotency.js';
import type { JobAccepted, JobCompleted } from './schemas.js';

type JobRequest<N extends JobName> = { name: N; payload: JobPayloads[N]; body: unknown };

/**
 * The job id of a request: the Idempotency-Key's (claimed in PostgreSQL), or a fresh uuid. A replay whose job
 * already executed is answered from PostgreSQL instead (the claim statement reads the stored result).
 */
const jobIdFor = async <N extends JobName>(
  deps: ApiDependencies,
  request: FastifyRequest,
  reply: FastifyReply,
  job: JobRequest<N>,
): Promise<{ jobId: string; completed?: JobCompleted }> => {
  const key = readIdempotencyKey(request);
  if (key === undefined) return { jobId: randomUUID() };
  const claimed = await claimJobIdForKey(deps.pool, {
    actor: job.payload.actor,
    key,
    method: request.method,
    route: request.routeOptions.url ?? request.url,
    queue: queueForJob(job.name, job.payload),
    body: job.body,
  });
  if (claimed.replayed) reply.header('Idempotent-Replayed', 'true');
  if (claimed.replayed && claimed.executedResult !== null) {
    request.log.info({ jobId: claimed.jobId, jobName: job.name }, 'idempotent replay of an executed job; answered from PostgreSQL');
    reply.code(200);
    return { jobId: claimed.jobId, completed: { jobId: claimed.jobId, status: 'completed', result: claimed.executedResult } };
  }
  return { jobId: claimed.jobId };
};

const accepted = (request: FastifyRequest, reply: FastifyReply, jobId: string, name: JobName, actor: string): JobAccepted => {
  request.log.info({ jobId, jobName: name, actor }, 'job enqueued');
  reply.code(202);
  return { jobId, status: 'queued' };
};

/**
 * The one path from an accepted request to a queued job. With an Idempotency-Key the key is claimed in PostgreSQL
 * first and the job is enqueued under the key's deterministic id. A replay whose job already executed is answered
 * 200 `{"jobId", "status": "completed", "result"}` from PostgreSQL, whether or not the job is still in Redis; any
 * other replay enqueues the same id again, which is safe: BullMQ keeps one job per id, and the worker applies each
 * change identity at most once (executed-jobs table, verification runs keyed by job id).
 * Without a key, a uuid: BullMQ's own counters are per queue, so two queues could hand out the same id.
 * @throws ApiError IDEMPOTENCY_CONFLICT, DEPENDENCY_UNAVAILABLE, VALIDATION_FAILED (malformed key).
 */
export const enqueueJob = async <N extends JobName>(
  deps: ApiDependencies,
  request: FastifyRequest,
  reply: FastifyReply,
  job: JobRequest<N>,
): Promise<JobAccepted | JobCompleted> => {
  const { jobId, completed } = await jobIdFor(deps, request, reply, job);
  if (completed !== undefined) return completed;
  await callRedis(`enqueue ${job.name}`, () => deps.queues.enqueue(job.name, job.payload, { jobId }));
  return accepted(request, reply, jobId, job.name, job.payload.actor);
};

/**
 * A release, enable or metadata change: enqueued like any job, and never applied after a 503. An enqueue that timed
 * out or failed on a ready connection may have been written to Redis, which runs it when it recovers; without an
 * Idempotency-Key the client could never learn that, so the api voids the job id in PostgreSQL first (see
 * voidUnconfirmedChange). With a key, the 503 says to repeat the request with it, which answers the real outcome.
 * @throws ApiError IDEMPOTENCY_CONFLICT, DEPENDENCY_UNAVAILABLE, VALIDATION_FAILED (malformed key).
 */
const enqueueOtherChange = async (
  deps: ApiDependencies,
  request: FastifyRequest,
  reply: FastifyReply,
  job: JobRequest<typeof JOB_NAMES.goLiveChange>,
): Promise<JobAccepted | JobCompleted> => {
  const keyed = readIdempotencyKey(request) !== undefined;
  const { jobId, completed } = await jobIdFor(deps, request, reply, job);
  if (completed !== undefined) return completed;
  // Not ready: ioredis refuses the command without sending it (no offline queue), so nothing can arrive later.
  const sendable = deps.redis.status === 'ready';
  try {
    await callRedis(`enqueue ${job.name}`, () => deps.queues.enqueue(job.name, job.payload, { jobId }));
  } catch (error) {
    if (!sendable) throw error;
    if (keyed) {
      throw new ApiError('DEPENDENCY_UNAVAILABLE', `Redis did not confirm the enqueue of job ${jobId}; repeat the request with the same Idempotency-Key to learn whether it was applied`, { cause: error });
    }
    return voidUnconfirmedChange(deps, request, reply, { jobId, payload: job.payload, cause: error });
  }
  return accepted(request, reply, jobId, job.name, job.payload.actor);
};

/**
 * Like enqueueJob for a go-live change, with the break-glass path for engages and disables: when the producer
 * connection is not ready (it would only fail: no offline queue), or the enqueue fails or misses its short deadline,
 * the api applies the change itself in PostgreSQL and answers 200 with its result (see breakGlass.ts). Any other
 * change is enqueued as usual (503 while Redis is down).
 * @throws ApiError IDEMPOTENCY_CONFLICT, DEPENDENCY_UNAVAILABLE, VALIDATION_FAILED (malformed key).
 */
export const enqueueChange = async (
  deps: ApiDependencies,
  request: FastifyRequest,
  reply: FastifyReply,
  job: JobRequest<typeof JOB_NAMES.goLiveChange>,
): Promise<JobAccepted | JobCompleted> => {
  if (!isSafetyAction(job.payload.action)) return enqueueOtherChange(deps, request, reply, job);
  const { jobId, completed } = await jobIdFor(deps, request, reply, job).catch((error: unknown) => {
    // PostgreSQL is down, so the key cannot be claimed; the engage must still go out. Its job id follows from actor
    // and key alone, so a repeat is the same job (BullMQ keeps one per id; the worker applies an id once). What is
    // lost is only the check that the key was not used for another request.
    const key = readIdempotencyKey(request);
    if (key === undefined || !(error instanceof ApiError) || error.code !== 'DEPENDENCY_UNAVAILABLE') throw error;
    request.log.warn({ err: error }, 'PostgreSQL unavailable: safety change enqueued under its key\'s job id without claiming the key');
    return { jobId: keyedJobId(job.payload.actor, key), completed: undefined };
  });
  if (completed !== undefined) return completed;
  const enqueued =
    deps.redis.status === 'ready' &&
    (await callRedis(`enqueue ${job.name}`, () => deps.queues.enqueue(job.name, job.payload, { jobId }), BREAK_GLASS_ENQUEUE_TIMEOUT_MS)
      .then(() => true)
      .catch((error: unknown) => {
        request.log.warn({ err: error, jobId }, 'enqueue of a safety change failed; applying it in PostgreSQL (break-glass)');
        return false;
      }));
  if (!enqueued) return applyBreakGlass(deps, request, reply, { jobId, payload: job.payload });
  return accepted(request, reply, jobId, job.name, job.payload.actor);
};
