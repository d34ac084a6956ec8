import {
  JOB_CATALOG,
  JOB_NAMES,
  QUEUES,
  applyGovernanceChange,
  changeRejectionFailure,
  sqlstateOf,
  type AuditKeyring,
  type ChangeResult,
  type DatabasePool,
  type Logger,
} from '@valhalla/core';
import type { Job } from 'bullmq';
import { parsePayloadOrFail, unrecoverableUnknownJob } from './invalidPayload.js';
import { finalFailure, finalFailureOf } from './jobFailures.js';
import type { ProcessorResult } from './withJobLogging.js';

export type GoLiveChangeProcessorDeps = {
  pool: DatabasePool;
  /** Head of the revision chain this worker's code ships: go-live enable needs a passed verification of it. */
  migrationHead: string;
  /** AUDIT_HMAC_KEYS: signs the change's audit entry. */
  auditKeyring: AuditKeyring;
  /** CHANGE_MAX_AGE_SECONDS: a change that expires and is not applied this long after its creation is rejected. */
  changeMaxAgeSeconds: number;
  /** Test-only hook (fault injection), called after a change committed and before the job is acknowledged. */
  afterCommit?: ((jobId: string) => void) | undefined;
  /** The transactional step; core's applyGovernanceChange unless replaced (benchmarks measure the path around it). */
  applyChange?: typeof applyGovernanceChange | undefined;
  /** Told how each (non-replayed) change transaction ended: the worker's metrics count them. */
  onTransaction?: ((outcome: 'committed' | 'rolled_back') => void) | undefined;
};

/**
 * The `go-live-change` processor: validate, execute exactly once per change identity (applyGovernanceChange replays
 * the stored result of a change that already committed), and turn a rejected change into a final failure record.
 * @throws UnrecoverableError carrying an INVALID_PAYLOAD, PRECONDITION_FAILED or EXPIRED record (not retried); any
 *   other error (RetryableDatabaseError included) unchanged, for withTransientRetry to decide.
 */
export const createGoLiveChangeProcessor =
  (deps: GoLiveChangeProcessorDeps) =>
  async (job: Job, log: Logger): Promise<ProcessorResult<ChangeResult>> => {
    if (job.name !== JOB_NAMES.goLiveChange) throw unrecoverableUnknownJob(QUEUES.governance, job.name);
    if (job.id === undefined) throw finalFailureOf('INVALID_PAYLOAD', 'job has no id');
    const payload = parsePayloadOrFail(JOB_NAMES.goLiveChange, job);
    const expiresAt = JOB_CATALOG[JOB_NAMES.goLiveChange].expires(payload) ? job.timestamp + deps.changeMaxAgeSeconds * 1000 : undefined;

    const applyChange = deps.applyChange ?? applyGovernanceChange;
    let execution: Awaited<ReturnType<typeof applyGovernanceChange>>;
    try {
      execution = await applyChange(deps.pool, { jobId: job.id, jobCreatedAt: job.timestamp, payload, migrationHead: deps.migrationHead, expiresAt }, deps.auditKeyring);
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

    const rejection = changeRejectionFailure(result);
    // Committed already (the audit row records the rejection); failing the job without retry reports it.
    if (rejection !== null) throw finalFailure(rejection);
    return { value: result, outcome: result.outcome };
  };
