import { sql, type DatabasePool } from 'slonik';
import { runInTransaction } from '../db/runInTransaction.js';
import { JOB_NAMES, QUEUES } from '../contract/jobContract.js';
import type { GoLiveChangePayload } from '../contract/payloads.js';
import type { AuditKeyring } from './audit/auditKeyring.js';
import { CHANGE_OUTCOMES, GOVERNANCE_ACTIONS, type ChangeResult } from './model.js';
import { readChangeContext } from './queries/changeContext.js';
import { commitChange } from './queries/commitChange.js';
import { lockGovernanceRows, snapshotOf } from './queries/governanceState.js';
import { decideChange } from './rules.js';

export type GovernanceChangeRequest = {
  jobId: string;
  /** The BullMQ job's creation time (job.timestamp): the same on every delivery of one job. */
  jobCreatedAt?: number | undefined;
  payload: GoLiveChangePayload;
  /** The migration head of the code that runs the worker: go-live enable needs a passed verification of it. */
  migrationHead: string;
  /** When the change expires (ms since epoch): past it, a change not yet applied is rejected as EXPIRED. */
  expiresAt?: number | undefined;
};

/** The unmet condition an EXPIRED rejection records in the audit entry. */
export const EXPIRED_CONDITION = 'change_max_age';

export type GovernanceChangeExecution = { result: ChangeResult; replayed: boolean };

/**
 * Executes one governance change exactly once per job id, in one transaction of three statements: lock row 1 of both
 * tables; read the stored result of this job id (if it already committed) and the verification of the head; decide
 * by the state rules and write the state, the audit entry (signed with `keyring`'s signing key) and the executed-job
 * record together. The second statement also takes the audit chain lock and reads its head. Safe to re-run:
 * database work only.
 *
 * A rejected change commits too (its audit entry and executed record); the caller turns the `rejected` result into a
 * PreconditionFailedError after the commit.
 * @throws RetryableDatabaseError on lost connections or exhausted serialization retries.
 */
export const applyGovernanceChange = async (
  pool: DatabasePool,
  request: GovernanceChangeRequest,
  keyring: AuditKeyring,
): Promise<GovernanceChangeExecution> =>
  runInTransaction(pool, async (tx) => {
    // Lock first, then look for an earlier execution: after the lock is granted, READ COMMITTED shows any commit of
    // a concurrent delivery of the same job, so two deliveries cannot both apply (and the executed-job primary key
    // would refuse the second anyway).
    // The reasoning below needs READ COMMITTED (a new snapshot per statement), whatever the database's default.
    await tx.query(sql.unsafe`SET TRANSACTION ISOLATION LEVEL READ COMMITTED`);
    const rows = await lockGovernanceRows(tx);
    const context = await readChangeContext(tx, {
      jobId: request.jobId,
      jobCreatedAt: request.jobCreatedAt,
      migrationHead: request.migrationHead,
    });
    if (context.executed !== null) return { result: context.executed, replayed: true };

    const { payload } = request;
    const before = snapshotOf(rows);
    // Checked under the lock, after the replay lookup: a change that committed in time keeps its result whenever it
    // is asked again, and one that waited out an outage past its age is rejected instead of landing late.
    const expired = request.expiresAt !== undefined && Date.now() > request.expiresAt;
    const decision = expired
      ? { outcome: CHANGE_OUTCOMES.rejected, unmet: [EXPIRED_CONDITION], after: before }
      : decideChange({
          action: payload.action,
          before,
          metadata: payload.action === GOVERNANCE_ACTIONS.metadataUpdate ? payload.metadata : undefined,
          verificationPassed: context.verificationPassed,
        });
    const result = {
      outcome: decision.outcome,
      action: payload.action,
      before,
      after: decision.after,
      unmet: decision.unmet,
      ...(request.jobCreatedAt === undefined ? {} : { jobCreatedAt: request.jobCreatedAt }),
      ...(expired ? { rejectedAs: 'EXPIRED' as const } : {}),
    };
    const auditId = await commitChange(tx, {
      jobId: context.executionKey,
      queue: QUEUES.governance,
      jobName: JOB_NAMES.goLiveChange,
      actor: payload.actor,
      reason: payload.reason,
      requestId: payload.requestId ?? null,
      writes:
        decision.outcome !== 'applied'
          ? 'nothing'
          : payload.action === GOVERNANCE_ACTIONS.metadataUpdate
            ? 'system_metadata'
            : 'go_live_state',
      result,
      auditHead: context.auditHead,
    }, keyring);
    return { result: { ...result, auditId }, replayed: false };
  });
