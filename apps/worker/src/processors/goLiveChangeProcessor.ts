import {
  JOB_NAMES,
  PreconditionFailedError,
  QUEUES,
  applyGovernanceChange,
  sqlstateOf,
  type AuditKeyring,
  type ChangeResult,
  type DatabasePool,
  type Logger,
} from '@valhalla/core';
import { UnrecoverableError, type Job } from 'bullmq';
import { parsePayloadOrFail, unrecoverableUnknownJob } from './invalidPayload.js';
import type { ProcessorResult } from './withJobLogging.js';

export type GoLiveChangeProcessorDeps = {
  pool: DatabasePool;
  /** Head of the revision chain this worker's code ships: go-live enable needs a passed verification of it. */
  migrationHead: string;
  /** AUDIT_HMAC_KEYS: signs the change's audit entry. */
  auditKeyring: AuditKeyring;
  /** Test-only hook (fault injection), called after a change committed and before the job is acknowledged. */
  afterCommit?: ((jobId: string) => void) | undefined;
  /** The transactional step; core's applyGovernanceChange unless replaced (benchmarks measure the path around it). */
  applyChange?: typeof applyGovernanceChange | undefined;
  /** Told how each (non-replayed) change transaction ended: the worker's metrics count them. */
  onTransaction?: ((outcome: 'committed' | 'rolled_back') => void) | undefined;
};

/**
 * The `go-live-change` processor: validate, execute exactly once per job id (applyGovernanceChange replays the
 * stored result of a job that already committed), and turn a rejected change into a permanent failure.
 * @throws UnrecoverableError `INVALID_PAYLOAD: ...` or `PRECONDITION_FAILED: ...` (not retried); any other error
 *   (RetryableDatabaseError included) unchanged, so BullMQ retries it with the catalog's backoff.
 */
export const createGoLiveChangeProcessor =
  (deps: GoLiveChangeProcessorDeps) =>
  async (job: Job, log: Logger): Promise<ProcessorResult<ChangeResult>> => {
    if (job.name !== JOB_NAMES.goLiveChange) throw unrecoverableUnknownJob(QUEUES.governance, job.name);
    if (job.id === undefined) throw new UnrecoverableError('INVALID_PAYLOAD: job has no id');
    const payload = parsePayloadOrFail(JOB_NAMES.goLiveChange, job.data);

    const applyChange = deps.applyChange ?? applyGovernanceChange;
    let execution: Awaited<ReturnType<typeof applyGovernanceChange>>;
    try {
      execution = await applyChange(deps.pool, { jobId: job.id, jobCreatedAt: job.timestamp, payload, migrationHead: deps.migrationHead }, deps.auditKeyring);
    } catch (err) {
      deps.onTransaction?.('rolled_back');
      // Logged here, with the job's logger (requestId included); withJobLogging then logs the attempt's end.
      log.warn({ sqlstate: sqlstateOf(err), errorName: err instanceof Error ? err.name : typeof err }, 'change transaction rolled back');
      throw err;
    }
    const { result, replayed } = execution;
    if (!replayed) {
      deps.onTransaction?.('committed');
      log.debug({ auditId: result.auditId, action: result.action, outcome: result.outcome }, 'change transaction committed');
      deps.afterCommit?.(job.id);
    }
    if (replayed) {
      log.info({ auditId: result.auditId, outcome: result.outcome }, 'job already executed; returning the stored result');
      // A reused job id is recognised by its creation time and executed under its own key; a record written before
      // creation times were stored cannot be told apart, so a mismatch is made visible.
      if (result.action !== payload.action) {
        log.error({ storedAction: result.action, action: payload.action }, 'job id was already executed for another change');
      }
    }

    if (result.outcome === 'rejected') {
      // Committed already (the audit row records the rejection); failing the job without retry reports it.
      const rejection = new PreconditionFailedError(result.unmet);
      throw new UnrecoverableError(`${rejection.code}: ${rejection.message}`);
    }
    return { value: result, outcome: result.outcome };
  };
