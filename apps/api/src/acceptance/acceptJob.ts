import { randomUUID } from 'node:crypto';
import { acceptJob as recordAcceptance, isRetryableDatabaseError, voidAcceptance, waitForDatabase, wasNeverSent, type AcceptedJob } from '@valhalla/core';
import { JOB_NAMES, isSafetyAction, queueForJob, type GoLiveChangePayload, type JobName, type JobPayloads } from '@valhalla/contract';
import type { FastifyBaseLogger } from 'fastify';
import { callDatabase, callRedis } from '../dependencyCalls.js';
import type { ApiDependencies } from '../dependencies.js';
import { ApiError } from '../errors.js';
import { claimOf, keyedJobId, type RequestKey } from '../idempotency.js';
import type { AcceptanceAnswer } from './acceptanceAnswer.js';
import { createAcceptanceBatcher, type AcceptanceBatcher } from './acceptanceBatcher.js';
import { answerFromExecution, applySafetyChange } from './applySafetyChange.js';

/** A job the api is asked to accept. */
export type JobToAccept<N extends JobName> = {
  name: N;
  payload: JobPayloads[N];
  idempotency?: RequestKey | undefined;
};

/** How long an enqueue may take before the api answers anyway: the change is recorded, the reconciler enqueues it. */
const ENQUEUE_TIMEOUT_MS = 500;

/**
 * How long the api keeps trying to void an acceptance PostgreSQL may have committed without confirming (the connection
 * broke during the statement, and PostgreSQL stays unreachable). Answering 503 before the void is written would let
 * the reconciler run the job once the database is back: a 503 applied later. Longer than a database cut or restart
 * usually lasts; past it the answer says the outcome is unknown and names the job.
 */
const VOID_DEADLINE_MS = 20_000;
const DATABASE_PROBE_INTERVAL_MS = 100;

/**
 * voidAcceptance, repeated while PostgreSQL is unreachable (each repeat as soon as it answers again), until
 * `deadline`.
 * @throws the last database error once the deadline passed; any error that is not a database outage at once.
 */
const voidBefore = async (deps: ApiDependencies, job: AcceptedJob, deadline: number): Promise<'voided' | 'settled'> => {
  for (;;) {
    try {
      return await voidAcceptance(deps.pool, job);
    } catch (error) {
      const remaining = deadline - Date.now();
      if (!isRetryableDatabaseError(error) || remaining <= 0) throw error;
      if (!(await waitForDatabase(deps.pool, { intervalMs: DATABASE_PROBE_INTERVAL_MS, timeoutMs: remaining }))) throw error;
    }
  }
};

/**
 * Enqueues an accepted job under its id. Failure is not the client's problem any more: PostgreSQL holds the job, and
 * the reconciler enqueues it again when Redis takes it (same id: BullMQ keeps one job per id, and the worker executes
 * each id once). Never throws.
 */
export const enqueueAccepted = async (deps: ApiDependencies, log: FastifyBaseLogger, job: { name: JobName; payload: JobPayloads[JobName]; jobId: string }) => {
  if (deps.redis.status !== 'ready') {
    log.warn({ jobId: job.jobId, jobName: job.name }, 'Redis unavailable: job accepted in PostgreSQL; the reconciler enqueues it when Redis returns');
    return;
  }
  await callRedis(`enqueue ${job.name}`, () => deps.queues.enqueue(job.name, job.payload as never, { jobId: job.jobId }), ENQUEUE_TIMEOUT_MS).catch((error: unknown) => {
    log.warn({ err: error, jobId: job.jobId, jobName: job.name }, 'enqueue failed: job accepted in PostgreSQL; the reconciler enqueues it');
  });
};

/**
 * The acceptance statement failed after it may have reached PostgreSQL: it may have committed. The answer will be
 * 503, so the job must never run: with a key the client learns the truth by repeating the request; without one the
 * job id is voided (see voidAcceptance; while PostgreSQL stays unreachable the request waits for it, up to
 * VOID_DEADLINE_MS), or, when it had executed already, its result is the answer.
 * @throws ApiError DEPENDENCY_UNAVAILABLE
 */
const refuseUnconfirmed = async (deps: ApiDependencies, log: FastifyBaseLogger, job: AcceptedJob, keyed: boolean, cause: unknown): Promise<AcceptanceAnswer> => {
  if (keyed) {
    throw new ApiError('DEPENDENCY_UNAVAILABLE', `PostgreSQL did not confirm the acceptance of job ${job.jobId}; repeat the request with the same Idempotency-Key to learn whether it was accepted`, { cause });
  }
  let voided: 'voided' | 'settled';
  try {
    voided = await voidBefore(deps, job, Date.now() + VOID_DEADLINE_MS);
  } catch (error) {
    log.error({ err: error, jobId: job.jobId }, 'could not void a job whose acceptance was not confirmed');
    throw new ApiError('DEPENDENCY_UNAVAILABLE', `PostgreSQL is unavailable and did not confirm job ${job.jobId}; see GET /api/jobs/${job.jobId} once it is back`, { cause });
  }
  if (voided === 'settled') {
    const answer = await answerFromExecution(deps, job.jobId);
    if (answer !== undefined) return answer;
  }
  log.warn({ jobId: job.jobId, jobName: job.jobName }, 'acceptance not confirmed: job voided');
  throw new ApiError('DEPENDENCY_UNAVAILABLE', `PostgreSQL did not confirm the request; it was not accepted and never will be (job ${job.jobId} is void); retry later`, { cause });
};

/** One group commit of acceptances per pool (per api instance; each test's server has a pool of its own). */
const batchers = new WeakMap<ApiDependencies['pool'], AcceptanceBatcher>();
const batcherFor = (pool: ApiDependencies['pool']): AcceptanceBatcher => {
  let batcher = batchers.get(pool);
  if (batcher === undefined) batchers.set(pool, (batcher = createAcceptanceBatcher(pool)));
  return batcher;
};

/**
 * Records the acceptance (a keyed one claims its key in the same statement; others are written together with those
 * that arrived at the same time, see createAcceptanceBatcher), then enqueues: 202 once PostgreSQL holds the job,
 * whether Redis took it or not. A replay of an executed job answers 200 with its result; a replay of an accepted one
 * answers 202 again and enqueues the same id again.
 * @throws ApiError DEPENDENCY_UNAVAILABLE (nothing accepted), IDEMPOTENCY_CONFLICT.
 */
const recordAndEnqueue = async <N extends JobName>(deps: ApiDependencies, log: FastifyBaseLogger, job: JobToAccept<N>): Promise<AcceptanceAnswer> => {
  const { actor } = job.payload;
  const claim = claimOf(job.idempotency);
  const accepted: AcceptedJob = {
    jobId: claim === undefined ? randomUUID() : keyedJobId(actor, claim.key),
    queue: queueForJob(job.name, job.payload),
    jobName: job.name,
    payload: job.payload,
    actor,
  };
  let outcome: Awaited<ReturnType<typeof recordAcceptance>>;
  try {
    outcome =
      claim === undefined
        ? { kind: 'accepted', ...(await callDatabase(() => batcherFor(deps.pool).record(accepted))) }
        : await callDatabase(() => recordAcceptance(deps.pool, accepted, claim));
  } catch (error) {
    if (!(error instanceof ApiError) || error.code !== 'DEPENDENCY_UNAVAILABLE' || wasNeverSent(error)) throw error;
    return refuseUnconfirmed(deps, log, accepted, claim !== undefined, error);
  }
  let jobId = accepted.jobId;
  if (outcome.kind === 'replayed') {
    if (outcome.record.request_hash !== claim?.requestHash) throw new ApiError('IDEMPOTENCY_CONFLICT', 'this Idempotency-Key was already used with a different request');
    jobId = outcome.record.job_id;
    if (outcome.executedResult !== null) {
      log.info({ jobId, jobName: job.name }, 'idempotent replay of an executed job; answered from PostgreSQL');
      return { code: 200, body: { jobId, status: 'completed', result: outcome.executedResult }, replayed: true };
    }
    // A key claimed by older code has no acceptance record yet: record it now, so the reconciler keeps it too.
    if (!outcome.accepted) await callDatabase(() => recordAcceptance(deps.pool, { ...accepted, jobId }));
  }
  await enqueueAccepted(deps, log, { name: job.name, payload: job.payload, jobId });
  log.info({ jobId, jobName: job.name, actor }, 'job accepted');
  return { code: 202, body: { jobId, status: 'queued' }, replayed: outcome.kind === 'replayed' };
};

/**
 * The one path from a request to a job, for every route that asks for a change or a verification (the Alertmanager
 * hook and change-request approval included). An engage or a disable is applied in the request (applySafetyChange);
 * everything else is recorded in PostgreSQL (the acceptance record), then enqueued: a 2xx means PostgreSQL holds it.
 * @throws ApiError DEPENDENCY_UNAVAILABLE, IDEMPOTENCY_CONFLICT.
 */
export const acceptJob = async <N extends JobName>(deps: ApiDependencies, log: FastifyBaseLogger, job: JobToAccept<N>): Promise<AcceptanceAnswer> => {
  if (job.name === JOB_NAMES.goLiveChange) {
    const payload = job.payload as GoLiveChangePayload;
    if (isSafetyAction(payload.action)) return applySafetyChange(deps, log, { payload, idempotency: job.idempotency });
  }
  return recordAndEnqueue(deps, log, job);
};
