import { InvalidPayloadError, sqlstateOf, type Logger } from '@valhalla/core';
import { JOB_NAMES, QUEUES, changeRejectionFailure, isSafetyAction, type ChangeResult } from '@valhalla/contract';
import type { Job } from 'bullmq';
import type { ChangeBatcher } from './changeBatcher.js';
import { parsePayloadOrFail, unrecoverableUnknownJob } from './invalidPayload.js';
import { FinalJobFailure, finalFailureOf } from './jobFailures.js';
import type { ProcessorResult } from './withJobLogging.js';

export type GoLiveChangeProcessorDeps = {
  /** The process's group-commit applier: every go-live-change job in flight goes through it. */
  batcher: ChangeBatcher;
  /** Told how each (non-replayed) change ended: the worker's metrics count them. */
  onTransaction?: ((outcome: 'committed' | 'rolled_back') => void) | undefined;
};

/**
 * The `go-live-change` processor of both change queues (`governance-safety`, `governance`): validate, hand the change
 * to the batcher (which executes it exactly once per change identity in a group-committed transaction), and turn a
 * rejected change into a final failure record.
 * @throws UnrecoverableError carrying an INVALID_PAYLOAD, PRECONDITION_FAILED, SUPERSEDED or EXPIRED record (not
 *   retried); any other error (RetryableDatabaseError included) unchanged, for withTransientRetry to decide.
 */
export const createGoLiveChangeProcessor =
  (deps: GoLiveChangeProcessorDeps) =>
  async (job: Job, log: Logger): Promise<ProcessorResult<ChangeResult>> => {
    if (job.name !== JOB_NAMES.goLiveChange) throw unrecoverableUnknownJob(job.queueName, job.name);
    if (job.id === undefined) throw finalFailureOf('INVALID_PAYLOAD', 'job has no id');
    const payload = parsePayloadOrFail(JOB_NAMES.goLiveChange, job);
    if (job.queueName === QUEUES.governanceSafety && !isSafetyAction(payload.action)) {
      throw finalFailureOf('INVALID_PAYLOAD', `queue ${QUEUES.governanceSafety} takes only kill_switch.engage and go_live.disable, not ${payload.action}`);
    }

    let execution: Awaited<ReturnType<ChangeBatcher['submit']>>;
    try {
      execution = await deps.batcher.submit({
        jobId: job.id,
        jobCreatedAt: job.timestamp,
        queue: job.queueName,
        payload,
      });
    } catch (err) {
      deps.onTransaction?.('rolled_back');
      // Logged here, with the job's logger (requestId included); withJobLogging then logs the attempt's end.
      log.warn({ sqlstate: sqlstateOf(err), errorName: err instanceof Error ? err.name : typeof err }, 'change transaction rolled back');
      // Text PostgreSQL cannot store, caught by the applier before writing: final, like any invalid payload.
      if (err instanceof InvalidPayloadError) throw finalFailureOf('INVALID_PAYLOAD', err.message);
      throw err;
    }
    const { result, replayed } = execution;
    if (!replayed) {
      deps.onTransaction?.('committed');
      log.debug({ auditId: result.auditId, action: result.action, outcome: result.outcome }, 'change transaction committed');
    } else {
      log.info({ auditId: result.auditId, outcome: result.outcome }, 'job already executed; returning the stored result');
      // A reused job id is recognised by its creation time and executed under its own key; a record written before
      // creation times were stored cannot be told apart, so a mismatch is made visible.
      if (result.action !== payload.action) {
        log.error({ storedAction: result.action, action: payload.action }, 'job id was already executed for another change');
      }
    }

    const rejection = changeRejectionFailure(result);
    // Committed already (the audit row records the rejection); failing the job without retry reports it.
    if (rejection !== null) throw new FinalJobFailure(rejection);
    return { value: result, outcome: result.outcome };
  };
