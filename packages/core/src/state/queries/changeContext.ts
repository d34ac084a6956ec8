import { sql, type CommonQueryMethods } from 'slonik';
import { z } from 'zod';
import { changeIdentity } from '../../contract/jobContract.js';
import { AppError } from '../../errors/index.js';
import { toChainHead, type AuditChainHead } from '../audit/appendAuditEntries.js';
import { changeResult, type ChangeResult, type StateSnapshot } from '../model.js';
import type { SafetyWatermarks } from '../rules.js';
import { snapshotOf } from './governanceState.js';

// The rows arrive as jsonb (whatever the adopted tables' column types); only what the rules decide on is read.
const context = z.object({
  go_live: z.object({ go_live_enabled: z.boolean(), kill_switch_engaged: z.boolean() }),
  metadata: z.object({ version: z.string(), backend_complete: z.boolean(), notes: z.string().nullable() }),
  engage_ms: z.number().nullable(),
  disable_ms: z.number().nullable(),
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
  /** The state the batch starts from (row 1 of both tables, locked). */
  snapshot: StateSnapshot;
  /** The supersession watermarks, as the latest writer under the lock left them. */
  watermarks: SafetyWatermarks;
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
 * Locks row 1 of the governance tables (every governance change takes this lock first, so changes and the audit chain
 * are serialised) and reads what a batch decides on, in one round trip: the state, the supersession watermarks, the
 * stored results of every member's identity, whether the latest verification of the migration head passed, and the
 * audit chain's head (its lock taken after the row lock, the order the outside-write trigger uses too). The reads run
 * in a statement of their own after the lock was granted (migration 20260216_change_context), so under READ
 * COMMITTED they see every commit the lock waited for: a concurrent delivery of the same job, and watermarks another
 * writer moved without changing the state.
 * @throws AppError INTERNAL_ERROR when a seed row is missing (a migration problem; migration-verify names it).
 */
export const lockChangeContext = async (
  tx: CommonQueryMethods,
  input: { members: readonly MemberIdentity[]; migrationHead: string },
): Promise<BatchContext> => {
  const keys = input.members.flatMap((member) => {
    const key = identityOf(member);
    return key === member.jobId ? [key] : [key, member.jobId];
  });
  const row = await tx.maybeOne(sql.type(context)`
    SELECT go_live, metadata, engage_ms, disable_ms, executed, verification_passed, head_id, head_hash, head_key_id, now_text
    FROM public.governance_change_context(${sql.array(keys, 'text')}, ${input.migrationHead})
  `);
  if (row === null) throw new AppError('INTERNAL_ERROR', 'seed row 1 of go_live_state or system_metadata is missing');
  const stored = (key: string) => row.executed[key];
  return {
    snapshot: snapshotOf({ goLive: row.go_live, metadata: row.metadata }),
    watermarks: { engageMs: row.engage_ms, disableMs: row.disable_ms },
    members: input.members.map((member) => resolveMember(member, stored)),
    verificationPassed: row.verification_passed ?? false,
    auditHead: toChainHead(row),
  };
};
