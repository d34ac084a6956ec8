import { sql, type CommonQueryMethods } from 'slonik';
import { z } from 'zod';
import { CHAIN_HEAD_COLUMNS, CHAIN_HEAD_SOURCE, toChainHead, type AuditChainHead } from '../audit/appendAuditEntries.js';
import { changeIdentity } from '../../contract/jobContract.js';
import { changeResult, type ChangeResult } from '../model.js';

const context = z.object({
  executed: changeResult.nullable(),
  executed_under_plain_id: changeResult.nullable(),
  verification_passed: z.boolean().nullable(),
  head_id: z.number().nullable(),
  head_hash: z.string().nullable(),
  head_key_id: z.string().nullable(),
  now_text: z.string(),
});

export type ChangeContext = {
  /** The stored result when this change (same identity) already committed. */
  executed: ChangeResult | null;
  /** The key to record this execution under: the change's identity (contract/jobContract.ts `changeIdentity`). */
  executionKey: string;
  verificationPassed: boolean;
  /** The audit chain's head, read under the chain lock this statement takes (held to commit). */
  auditHead: AuditChainHead;
};

/**
 * What a change needs to know once it holds the row lock, in one round trip: the stored result if this change already
 * committed, whether the latest verification of the migration head passed with no inconclusive check (a check that
 * could not measure proves nothing), and the audit chain's head (taking the chain lock after the row lock, the order
 * the outside-write trigger uses too). Must run after the lock statement:
 * READ COMMITTED gives this statement a snapshot taken after the lock was granted, so it sees a commit of a concurrent
 * delivery of the same job.
 *
 * Identity: a producer's own job id is the change, so a replay re-enqueued under that id (new creation time) is the
 * same change and answers with its result. A BullMQ counter id (all digits) restarts when Redis loses its data, so it
 * is keyed with the creation time: a different job with an old counter id is executed as the new job it is. Counter
 * ids recorded by earlier code under the plain id are still recognised by their stored creation time.
 */
export const readChangeContext = async (
  tx: CommonQueryMethods,
  input: { jobId: string; jobCreatedAt: number | undefined; migrationHead: string },
): Promise<ChangeContext> => {
  const key = input.jobCreatedAt === undefined ? input.jobId : changeIdentity(input.jobId, input.jobCreatedAt);
  const plainId = key === input.jobId ? null : input.jobId;
  const row = await tx.one(sql.type(context)`
    SELECT
      (SELECT result FROM public.governance_executed_jobs WHERE job_id = ${key}) AS executed,
      (SELECT result FROM public.governance_executed_jobs WHERE job_id = ${plainId}) AS executed_under_plain_id,
      (SELECT passed AND NOT checks @> '[{"status": "inconclusive"}]'::jsonb AND NOT checks @> '[{"status": "error"}]'::jsonb
       FROM public.verification_runs WHERE migration_head = ${input.migrationHead}
       ORDER BY id DESC LIMIT 1) AS verification_passed,
      ${CHAIN_HEAD_COLUMNS}
    FROM ${CHAIN_HEAD_SOURCE}
  `);
  const auditHead = toChainHead(row);
  const verificationPassed = row.verification_passed ?? false;
  const legacy = row.executed_under_plain_id;
  if (row.executed === null && legacy !== null && legacy.jobCreatedAt === input.jobCreatedAt) {
    return { executed: legacy, executionKey: input.jobId, verificationPassed, auditHead };
  }
  return { executed: row.executed, executionKey: key, verificationPassed, auditHead };
};
