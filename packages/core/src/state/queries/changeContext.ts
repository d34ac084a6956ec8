import { sql, type CommonQueryMethods } from 'slonik';
import { z } from 'zod';
import { changeResult, type ChangeResult } from '../model.js';

const context = z.object({
  executed: z.record(z.string(), changeResult),
  verification_passed: z.boolean().nullable(),
});

/** The executed-job key of a job that reuses the id of an earlier, different job (same id, later creation time). */
export const reusedIdExecutionKey = (jobId: string, jobCreatedAt: number): string => `${jobId}@${jobCreatedAt}`;

export type MemberIdentity = { jobId: string; jobCreatedAt: number | undefined };

export type MemberContext = {
  /** The stored result when this very job (same id, same creation time) already committed. */
  executed: ChangeResult | null;
  /** The key to record this execution under: the job id, or the reused-id key when another job holds the id. */
  executionKey: string;
};

export type BatchContext = { members: MemberContext[]; verificationPassed: boolean };

/**
 * Which execution a job is, given the stored results under its id and under its reused-id key.
 * A job id can come back for a different job: BullMQ counter ids restart when Redis loses its data. The stored
 * creation time tells the two apart, and the new job is recorded under `<id>@<created>` instead of being answered
 * with the old job's result (a lost kill-switch engage). A stored result without a creation time (a break-glass
 * apply, or a record from before creation times were stored) is the same change as any job with its id.
 */
export const resolveMember = (
  member: MemberIdentity,
  stored: (key: string) => ChangeResult | undefined,
): MemberContext => {
  const reusedKey = member.jobCreatedAt === undefined ? null : reusedIdExecutionKey(member.jobId, member.jobCreatedAt);
  const asReused = reusedKey === null ? undefined : stored(reusedKey);
  if (asReused !== undefined && reusedKey !== null) return { executed: asReused, executionKey: reusedKey };
  const executed = stored(member.jobId) ?? null;
  const sameJob =
    executed !== null &&
    (executed.jobCreatedAt === undefined || member.jobCreatedAt === undefined || executed.jobCreatedAt === member.jobCreatedAt);
  if (executed === null || sameJob) return { executed, executionKey: member.jobId };
  return { executed: null, executionKey: reusedKey ?? member.jobId };
};

/**
 * What a batch of changes needs to know once it holds the row lock, in one round trip: the stored results of every
 * member's id and reused-id key, and whether the latest verification of the migration head passed. Must run after the
 * lock statement: READ COMMITTED gives this statement a snapshot taken after the lock was granted, so it sees a
 * commit of a concurrent delivery of the same job.
 */
export const readBatchContext = async (
  tx: CommonQueryMethods,
  input: { members: readonly MemberIdentity[]; migrationHead: string },
): Promise<BatchContext> => {
  const keys = input.members.flatMap((member) =>
    member.jobCreatedAt === undefined ? [member.jobId] : [member.jobId, reusedIdExecutionKey(member.jobId, member.jobCreatedAt)],
  );
  const row = await tx.one(sql.type(context)`
    SELECT
      (SELECT coalesce(jsonb_object_agg(e.job_id, e.result), '{}'::jsonb)
       FROM public.governance_executed_jobs e WHERE e.job_id = ANY(${sql.array(keys, 'text')})) AS executed,
      (SELECT passed FROM public.verification_runs WHERE migration_head = ${input.migrationHead}
       ORDER BY id DESC LIMIT 1) AS verification_passed
  `);
  const stored = (key: string) => row.executed[key];
  return { members: input.members.map((member) => resolveMember(member, stored)), verificationPassed: row.verification_passed ?? false };
};
