import type { DatabasePool } from 'slonik';
import { runInTransaction } from '../db/runInTransaction.js';
import { JOB_NAMES, QUEUES, type GoLiveChangePayload } from '../jobs/catalog.js';
import { GOVERNANCE_ACTIONS, type ChangeResult } from './model.js';
import { appendAuditEntry } from './queries/auditLog.js';
import { findExecutedJob, recordExecutedJob } from './queries/executedJobs.js';
import { lockGovernanceRows, snapshotOf, updateGoLiveState, updateSystemMetadata } from './queries/governanceState.js';
import { findLatestVerificationRun } from './queries/verificationRuns.js';
import { decideChange } from './rules.js';

export type GovernanceChangeRequest = {
  jobId: string;
  payload: GoLiveChangePayload;
  /** The migration head of the code that runs the worker: go-live enable needs a passed verification of it. */
  migrationHead: string;
};

export type GovernanceChangeExecution = { result: ChangeResult; replayed: boolean };

/**
 * Executes one governance change exactly once per job id, in one transaction: lock row 1, return the stored result
 * if this job already committed, otherwise decide by the state rules, write the state, the audit entry and the
 * executed-job record together. Safe to re-run: database work only.
 *
 * A rejected change commits too (its audit entry and executed record); the caller turns the `rejected` result into a
 * PreconditionFailedError after the commit.
 * @throws RetryableDatabaseError on lost connections or exhausted serialization retries.
 */
export const applyGovernanceChange = async (
  pool: DatabasePool,
  request: GovernanceChangeRequest,
): Promise<GovernanceChangeExecution> =>
  runInTransaction(pool, async (tx) => {
    // Lock first, then look for an earlier execution: after the lock is granted, READ COMMITTED shows any commit of
    // a concurrent delivery of the same job, so two deliveries cannot both apply.
    const rows = await lockGovernanceRows(tx);
    const previous = await findExecutedJob(tx, request.jobId);
    if (previous !== null) return { result: previous, replayed: true };

    const { payload } = request;
    const before = snapshotOf(rows);
    const verificationPassed =
      payload.action === GOVERNANCE_ACTIONS.goLiveEnable
        ? ((await findLatestVerificationRun(tx, request.migrationHead))?.passed ?? false)
        : false;
    const decision = decideChange({
      action: payload.action,
      before,
      metadata: payload.action === GOVERNANCE_ACTIONS.metadataUpdate ? payload.metadata : undefined,
      verificationPassed,
    });

    if (decision.outcome === 'applied') {
      if (payload.action === GOVERNANCE_ACTIONS.metadataUpdate) {
        await updateSystemMetadata(tx, {
          version: decision.after.version,
          backendComplete: decision.after.backend_complete,
          notes: decision.after.notes,
        });
      } else {
        await updateGoLiveState(tx, {
          goLiveEnabled: decision.after.go_live_enabled,
          killSwitchEngaged: decision.after.kill_switch_engaged,
          changedBy: payload.actor,
          reason: payload.reason,
        });
      }
    }

    const audit = await appendAuditEntry(tx, {
      jobId: request.jobId,
      action: payload.action,
      outcome: decision.outcome,
      actor: payload.actor,
      reason: payload.reason,
      before,
      after: decision.after,
      unmet: decision.unmet,
      requestId: payload.requestId ?? null,
    });
    const result: ChangeResult = {
      outcome: decision.outcome,
      action: payload.action,
      auditId: audit.id,
      before,
      after: decision.after,
      unmet: decision.unmet,
    };
    await recordExecutedJob(tx, { jobId: request.jobId, queue: QUEUES.governance, jobName: JOB_NAMES.goLiveChange, result });
    return { result, replayed: false };
  });
