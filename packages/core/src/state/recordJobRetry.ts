import { randomUUID } from 'node:crypto';
import type { DatabasePool } from 'slonik';
import { runInTransaction } from '../db/runInTransaction.js';
import { appendAuditEntries } from './audit/appendAuditEntries.js';
import type { AuditKeyring } from './audit/auditKeyring.js';
import { AUDIT_KINDS, CHANGE_OUTCOMES, type AuditEntry } from '@valhalla/contract';
import { lockGovernanceRows, snapshotOf } from './queries/governanceState.js';

/** The audit action of an operator's manual retry of a failed job (`POST /api/jobs/:id/retry`). */
export const JOB_RETRY_ACTION = 'job.retry';

/** Conditions a recorded retry turned out not to meet, named in a follow-up `rejected` entry. */
export const JOB_RETRY_CONDITIONS = { jobFailed: 'job_in_failed_set', queueReachable: 'queue_reachable' } as const;
export type JobRetryCondition = (typeof JOB_RETRY_CONDITIONS)[keyof typeof JOB_RETRY_CONDITIONS];

const appendOne = async (
  tx: Parameters<typeof appendAuditEntries>[0],
  keyring: AuditKeyring,
  entry: Parameters<typeof appendAuditEntries>[1][number],
): Promise<AuditEntry> => {
  const [inserted] = await appendAuditEntries(tx, [entry], keyring);
  if (inserted === undefined) throw new Error('appendAuditEntries returned no entry');
  return inserted;
};

export type JobRetryRequest = { targetJobId: string; actor: string; reason: string; requestId: string | null };

/**
 * Writes the audit entry of a manual job retry, in one transaction: lock row 1 of the governance tables (which
 * serialises every audit writer), then append `job.retry` / `applied` with before = after = the current snapshot.
 * The audit table's job_id is unique, so each retry gets its own: `job.retry:<target id>:<uuid>`.
 * Database work only, safe to re-run: the caller retries the BullMQ job after this commits.
 * @throws RetryableDatabaseError on a lost connection or exhausted serialization retries.
 */
export const recordJobRetry = async (pool: DatabasePool, request: JobRetryRequest, keyring: AuditKeyring): Promise<AuditEntry> =>
  runInTransaction(pool, async (tx) => {
    const snapshot = snapshotOf(await lockGovernanceRows(tx));
    return appendOne(tx, keyring, {
      kind: AUDIT_KINDS.change,
      jobId: `${JOB_RETRY_ACTION}:${request.targetJobId}:${randomUUID()}`,
      action: JOB_RETRY_ACTION,
      outcome: CHANGE_OUTCOMES.applied,
      actor: request.actor,
      reason: request.reason,
      before: snapshot,
      after: snapshot,
      unmet: [],
      requestId: request.requestId,
    });
  });

/**
 * Notes, after the fact, that a retry recorded by `recordJobRetry` did not happen (the job left the failed set in
 * between, or the queue was unreachable): a `rejected` entry naming the unmet condition, with job_id
 * `<the recorded entry's job_id>:failed` so the two entries are linked. The audit log is append-only, so the first
 * entry stays; this one corrects it.
 * @throws RetryableDatabaseError on a lost connection or exhausted serialization retries.
 */
export const recordJobRetryFailure = async (
  pool: DatabasePool,
  recorded: AuditEntry,
  unmet: JobRetryCondition,
  keyring: AuditKeyring,
): Promise<AuditEntry> =>
  runInTransaction(pool, async (tx) => {
    const snapshot = snapshotOf(await lockGovernanceRows(tx));
    return appendOne(tx, keyring, {
      kind: AUDIT_KINDS.change,
      jobId: `${recorded.job_id ?? `${JOB_RETRY_ACTION}:${randomUUID()}`}:failed`,
      action: JOB_RETRY_ACTION,
      outcome: CHANGE_OUTCOMES.rejected,
      actor: recorded.actor,
      reason: recorded.reason,
      before: snapshot,
      after: snapshot,
      unmet: [unmet],
      requestId: recorded.request_id,
    });
  });
