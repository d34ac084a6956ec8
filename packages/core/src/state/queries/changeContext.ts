import { sql, type CommonQueryMethods } from 'slonik';
import { z } from 'zod';
import { CHAIN_HEAD_COLUMNS, CHAIN_HEAD_SOURCE, toChainHead, type AuditChainHead } from '../audit/appendAuditEntries.js';
import { changeResult, type ChangeResult } from '../model.js';

const context = z.object({
  executed: changeResult.nullable(),
  executed_as_reused: changeResult.nullable(),
  verification_passed: z.boolean().nullable(),
  head_id: z.number().nullable(),
  head_hash: z.string().nullable(),
  head_key_id: z.string().nullable(),
  now_text: z.string(),
});

/** The executed-job key of a job that reuses the id of an earlier, different job (same id, later creation time). */
export const reusedIdExecutionKey = (jobId: string, jobCreatedAt: number): string => `${jobId}@${jobCreatedAt}`;

export type ChangeContext = {
  /** The stored result when this very job (same id, same creation time) already committed. */
  executed: ChangeResult | null;
  /** The key to record this execution under: the job id, or the reused-id key when another job holds the id. */
  executionKey: string;
  verificationPassed: boolean;
  /** The audit chain's head, read under the chain lock this statement takes (held to commit). */
  auditHead: AuditChainHead;
};

/**
 * What a change needs to know once it holds the row lock, in one round trip: the stored result if this job already
 * committed, whether the latest verification of the migration head passed with no inconclusive check (a check
 * that could not measure proves nothing), and the audit chain's head (taking the chain lock after the row lock, the
 * order the outside-write trigger uses too). Must run after the lock statement:
 * READ COMMITTED gives this statement a snapshot taken after the lock was granted, so it sees a commit of a concurrent
 * delivery of the same job.
 *
 * A job id can come back for a different job: BullMQ counter ids restart when Redis loses its data. The stored
 * creation time tells the two apart, and the new job is recorded under `<id>@<created>` instead of being answered
 * with the old job's result (a lost kill-switch engage).
 */
export const readChangeContext = async (
  tx: CommonQueryMethods,
  input: { jobId: string; jobCreatedAt: number | undefined; migrationHead: string },
): Promise<ChangeContext> => {
  const reusedKey = input.jobCreatedAt === undefined ? null : reusedIdExecutionKey(input.jobId, input.jobCreatedAt);
  const row = await tx.one(sql.type(context)`
    SELECT
      (SELECT result FROM public.governance_executed_jobs WHERE job_id = ${input.jobId}) AS executed,
      (SELECT result FROM public.governance_executed_jobs WHERE job_id = ${reusedKey}) AS executed_as_reused,
      (SELECT passed AND NOT checks @> '[{"status": "inconclusive"}]'::jsonb AND NOT checks @> '[{"status": "error"}]'::jsonb
       FROM public.verification_runs WHERE migration_head = ${input.migrationHead}
       ORDER BY id DESC LIMIT 1) AS verification_passed,
      ${CHAIN_HEAD_COLUMNS}
    FROM ${CHAIN_HEAD_SOURCE}
  `);
  const auditHead = toChainHead(row);
  const verificationPassed = row.verification_passed ?? false;
  if (row.executed_as_reused !== null && reusedKey !== null) {
    return { executed: row.executed_as_reused, executionKey: reusedKey, verificationPassed, auditHead };
  }
  const sameJob =
    row.executed !== null &&
    (row.executed.jobCreatedAt === undefined || input.jobCreatedAt === undefined || row.executed.jobCreatedAt === input.jobCreatedAt);
  if (row.executed === null || sameJob) return { executed: row.executed, executionKey: input.jobId, verificationPassed, auditHead };
  return { executed: null, executionKey: reusedKey ?? input.jobId, verificationPassed, auditHead };
};
