import { sql, type CommonQueryMethods } from 'slonik';
import { z } from 'zod';
import { changeIdentity } from '../../contract/jobContract.js';
import { CHAIN_HEAD_COLUMNS, CHAIN_HEAD_SOURCE, toChainHead, type AuditChainHead } from '../audit/appendAuditEntries.js';
import { changeResult, type ChangeResult } from '../model.js';

const context = z.object({
  executed: z.record(z.string(), changeResult),
  verification_passed: z.boolean().nullable(),
  head_id: z.number().nullable(),
  head_hash: z.string().nullable(),
  head_key_id: z.string().nullable(),
  now_text: z.string(),
});

export type MemberIdentity = { jobId: string; jobCreatedAt: number | undefined };

export type MemberContext = {
  /** The stored result when this change (same identity) already committed. */
  executed: ChangeResult | null;
  /** The key to record this execution under: the change's identity (contract/jobContract.ts `changeIdentity`). */
  executionKey: string;
};

export type BatchContext = {
  members: MemberContext[];
  verificationPassed: boolean;
  /** The audit chain's head, read under the chain lock this statement takes (held to commit). */
  auditHead: AuditChainHead;
};

/** The executed-job key of a member (its identity, see contract/jobContract.ts `changeIdentity`). */
const identityOf = (member: MemberIdentity): string =>
  member.jobCreatedAt === undefined ? member.jobId : changeIdentity(member.jobId, member.jobCreatedAt);

/**
 * Which execution a member is, given the stored results. Identity: a producer's own job id is the change, so a
 * replay re-enqueued under that id (new creation time), or a job that reaches Redis after the api applied it
 * (break-glass), is the same change and answers with its result. A BullMQ counter id (all digits) restarts when Redis
 * loses its data, so it is keyed with the creation time: a different job with an old counter id is executed as the
 * new job it is. Counter ids recorded by earlier code under the plain id are still recognised by their stored
 * creation time.
 */
export const resolveMember = (member: MemberIdentity, stored: (key: string) => ChangeResult | undefined): MemberContext => {
  const key = identityOf(member);
  const executed = stored(key);
  if (executed === undefined && key !== member.jobId) {
    const legacy = stored(member.jobId);
    if (legacy !== undefined && legacy.jobCreatedAt === member.jobCreatedAt) return { executed: legacy, executionKey: member.jobId };
  }
  return { executed: executed ?? null, executionKey: key };
};

/**
 * What a batch of changes needs to know once it holds the row lock, in one round trip: the stored results of every
 * member's identity, whether the latest verification of the migration head passed, and the audit chain's head (taking
 * the chain lock after the row lock, the order the outside-write trigger uses too). Must run after the lock
 * statement: READ COMMITTED gives this statement a snapshot taken after the lock was granted, so it sees a commit of
 * a concurrent delivery of the same job.
 */
export const readBatchContext = async (
  tx: CommonQueryMethods,
  input: { members: readonly MemberIdentity[]; migrationHead: string },
): Promise<BatchContext> => {
  const keys = input.members.flatMap((member) => {
    const key = identityOf(member);
    return key === member.jobId ? [key] : [key, member.jobId];
  });
  const row = await tx.one(sql.type(context)`
    SELECT
      (SELECT coalesce(jsonb_object_agg(e.job_id, e.result), '{}'::jsonb)
       FROM public.governance_executed_jobs e WHERE e.job_id = ANY(${sql.array(keys, 'text')})) AS executed,
      -- A check that could not measure (inconclusive, or the older 'error') proves nothing: the run does not count.
      (SELECT passed AND NOT checks @> '[{"status": "inconclusive"}]'::jsonb AND NOT checks @> '[{"status": "error"}]'::jsonb
       FROM public.verification_runs WHERE migration_head = ${input.migrationHead}
       ORDER BY id DESC LIMIT 1) AS verification_passed,
      ${CHAIN_HEAD_COLUMNS}
    FROM ${CHAIN_HEAD_SOURCE}
  `);
  const stored = (key: string) => row.executed[key];
  return {
    members: input.members.map((member) => resolveMember(member, stored)),
    verificationPassed: row.verification_passed ?? false,
    auditHead: toChainHead(row),
  };
};
