import { randomUUID } from 'node:crypto';
import { applyGovernanceChange, claimIdempotencyKey, findExecutedJob, waitForDatabase, type KeyClaim } from '@valhalla/core';
import { JOB_NAMES, QUEUES, type GoLiveChangePayload } from '@valhalla/contract';
import type { FastifyBaseLogger } from 'fastify';
import { callDatabase, callRedis } from '../dependencyCalls.js';
import type { ApiDependencies } from '../dependencies.js';
import { ApiError } from '../errors.js';
import { claimOf, keyedJobId, type RequestKey } from '../idempotency.js';
import type { AcceptanceAnswer } from './acceptanceAnswer.js';

const isDatabaseUnavailable = (error: unknown): error is ApiError => error instanceof ApiError && error.code === 'DEPENDENCY_UNAVAILABLE';

/**
 * Attempts of the in-request apply while PostgreSQL still answers: a session ended under the change (pg_terminate_backend,
 * an engage of another process preempting this one as an idle holder of row 1 on a starved CPU) is not an outage, and
 * the change is applied in the request rather than queued as if the database were unreachable.
 */
const IN_REQUEST_ATTEMPTS = 3;
/** How long the database has to answer a probe for the apply to be attempted again in the request. */
const DATABASE_ANSWER_MS = 250;
const DATABASE_PROBE_INTERVAL_MS = 50;
/**
 * Longest an engage or disable waits on PostgreSQL in the request before it is queued for a worker instead: a
 * silent connection (partition, frozen server, a pool waiting for one) must not hold the answer until the database
 * returns. An apply that commits after the deadline is not lost or doubled: the queued job has the same id and
 * replays the stored execution.
 */
const SAFETY_DATABASE_DEADLINE_MS = 3_000;

/** 200 with the stored execution of `jobId`, or undefined when it has none. */
export const answerFromExecution = async (deps: ApiDependencies, jobId: string): Promise<AcceptanceAnswer | undefined> => {
  const executed = await callDatabase(() => findExecutedJob(deps.pool, jobId));
  return executed === null ? undefined : { code: 200, body: { jobId, status: 'completed', result: executed.result }, replayed: true };
};

/**
 * PostgreSQL is unreachable: the engage or disable goes to the safety lane under its job id, and a worker applies it
 * the moment the database answers again (exactly once: the executed-job record). The answer says it is queued, not
 * applied. A key that could not be claimed travels with the job, and the worker claims it when it applies the change.
 * @throws ApiError DEPENDENCY_UNAVAILABLE when Redis is unavailable too.
 */
const queueForLater = async (
  deps: ApiDependencies,
  log: FastifyBaseLogger,
  change: { jobId: string; payload: GoLiveChangePayload; unclaimed: KeyClaim | undefined; cause: unknown },
): Promise<AcceptanceAnswer> => {
  const payload = change.unclaimed === undefined ? change.payload : { ...change.payload, idempotency: change.unclaimed };
  try {
    await callRedis('enqueue safety change', () => deps.queues.enqueue(JOB_NAMES.goLiveChange, payload, { jobId: change.jobId }));
  } catch (error) {
    log.error({ err: error, jobId: change.jobId, action: change.payload.action }, 'PostgreSQL and Redis unavailable: safety change neither applied nor queued');
    throw new ApiError('DEPENDENCY_UNAVAILABLE', `PostgreSQL and Redis are unavailable: the ${change.payload.action} could not be applied or queued; retry`, { cause: change.cause });
  }
  log.warn({ jobId: change.jobId, action: change.payload.action }, 'PostgreSQL unavailable: safety change queued; a worker applies it when the database returns');
  return {
    code: 202,
    body: {
      jobId: change.jobId,
      status: 'queued',
      detail: 'PostgreSQL is unreachable or did not answer in time: the change is queued, not applied yet; a worker applies it as soon as the database answers (GET /api/jobs/:id)',
    },
    replayed: false,
  };
};

/**
 * An engage or a disable is applied in the request: the same exactly-once transaction, audit entry and job id as a
 * worker's (a batch of one on the governance-safety queue), taking its acceptance number under the row-1 lock, and
 * answered 200 `{"jobId", "status": "completed", "result"}` whether Redis is up or not. Its job id is the request's
 * Idempotency-Key's (claimed first) or a new uuid; a repeat with the key replays the stored result. A transaction
 * that failed while PostgreSQL still answers is applied again in the request (IN_REQUEST_ATTEMPTS); while PostgreSQL
 * is unreachable the change is queued instead (queueForLater).
 * @throws ApiError IDEMPOTENCY_CONFLICT; DEPENDENCY_UNAVAILABLE when neither PostgreSQL nor Redis takes it.
 */
export const applySafetyChange = async (
  deps: ApiDependencies,
  log: FastifyBaseLogger,
  change: { payload: GoLiveChangePayload; idempotency?: RequestKey | undefined },
): Promise<AcceptanceAnswer> => {
  const { payload } = change;
  const claim = claimOf(change.idempotency);
  let jobId = claim === undefined ? randomUUID() : keyedJobId(payload.actor, claim.key);
  let replayed = false;
  if (claim !== undefined) {
    let claimed: Awaited<ReturnType<typeof claimIdempotencyKey>>;
    try {
      claimed = await callDatabase(
        () => claimIdempotencyKey(deps.pool, { ...claim, actor: payload.actor, queue: QUEUES.governanceSafety, jobId }),
        SAFETY_DATABASE_DEADLINE_MS,
      );
    } catch (error) {
      if (!isDatabaseUnavailable(error)) throw error;
      return queueForLater(deps, log, { jobId, payload, unclaimed: claim, cause: error });
    }
    if (!claimed.created && claimed.record.request_hash !== claim.requestHash) {
      throw new ApiError('IDEMPOTENCY_CONFLICT', 'this Idempotency-Key was already used with a different request');
    }
    jobId = claimed.record.job_id;
    replayed = !claimed.created;
    if (replayed && claimed.executedResult !== null) {
      return { code: 200, body: { jobId, status: 'completed', result: claimed.executedResult }, replayed: true };
    }
  }
  const { head } = await deps.migrations.chain();
  for (let attempt = 1; ; attempt += 1) {
    try {
      const execution = await callDatabase(() =>
        applyGovernanceChange(
          deps.pool,
          { jobId, queue: QUEUES.governanceSafety, payload, acceptNow: true },
          { keyring: deps.config.auditKeyring, migrationHead: head, approvalsRequired: deps.config.approvalsRequired },
        ),
        SAFETY_DATABASE_DEADLINE_MS,
      );
      const { result } = execution;
      log.info({ jobId, action: payload.action, outcome: result.outcome, auditId: result.auditId, replayed: execution.replayed, attempt }, 'safety change applied in the request');
      return { code: 200, body: { jobId, status: 'completed', result }, replayed: replayed || execution.replayed };
    } catch (error) {
      if (!isDatabaseUnavailable(error)) throw error;
      // Its session ended (terminated, preempted as an idle holder of row 1, a serialization failure) while
      // PostgreSQL answers: applied again in the request, under the same job id (a replay if it had committed).
      if (attempt < IN_REQUEST_ATTEMPTS && (await waitForDatabase(deps.pool, { intervalMs: DATABASE_PROBE_INTERVAL_MS, timeoutMs: DATABASE_ANSWER_MS }))) {
        log.warn({ err: error, jobId, action: payload.action, attempt }, 'safety change failed in the request while PostgreSQL answers; applying it again');
        continue;
      }
      // It may have committed (a connection lost during COMMIT): the queued job then replays its result.
      return queueForLater(deps, log, { jobId, payload, unclaimed: undefined, cause: error });
    }
  }
};
