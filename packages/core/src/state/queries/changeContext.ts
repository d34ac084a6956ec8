import { sql, type CommonQueryMethods } from 'slonik';
import { z } from 'zod';
import { PREPARED_STATEMENTS } from '../../db/preparedStatements.js';
import { changeIdentity } from '@valhalla/contract';
import { AppError } from '../../errors/index.js';
import { toChainHead, type AuditChainHead } from '../audit/appendAuditEntries.js';
import { changeResult, type ChangeResult, type StateSnapshot } from '@valhalla/contract';
import type { SafetyWatermarks } from '../rules/rules.js';
import { snapshotOf } from './governanceState.js';
import { toSafetyWatermarks, watermarksJson } from './safetyWatermarks.js';

// The rows arrive as jsonb (whatever the adopted tables' column types); only what the rules decide on is read.
const context = z.object({
  go_live: z.object({ go_live_enabled: z.boolean(), kill_switch_engaged: z.boolean() }),
  metadata: z.object({ version: z.string(), backend_complete: z.boolean(), notes: z.string().nullable() }),
  watermarks: watermarksJson,
  executed: z.record(z.string(), changeResult),
  accepted: z.record(z.string(), z.object({ seq: z.number(), created_ms: z.number(), accepted_ms: z.number(), voided: z.boolean() })),
  verification_passed: z.boolean().nullable(),
  head_id: z.number().nullable(),
  head_hash: z.string().nullable(),
  head_key_id: z.string().nullable(),
  now_text: z.string(),
  now_ms: z.number(),
  new_seq: z.number().nullable(),
});

export type MemberIdentity = { jobId: string; jobCreatedAt: number | undefined };

/** A member's acceptance record (changes the api accepted; see migration 20260301_acceptance_record). */
type MemberAcceptance = {
  /** Its acceptance number: its place in the one order of everything the api accepted. */
  seq: number;
  /** Its creation time on the database's clock (ms): when it was accepted, or when its change request was made. */
  createdMs: number;
  /** When the api accepted it (ms, the database's clock): its age counts from here. */
  acceptedMs: number;
  /** The api could not learn whether the record committed and answered 503: the change must never run. */
  voided: boolean;
};

export type MemberContext = {
  /** The stored result when this change (same identity) already committed. */
  executed: ChangeResult | null;
  /** Its acceptance record; null for a job added straight to a queue by another producer. */
  accepted: MemberAcceptance | null;
  /** The key to record this execution under: the change's identity (`changeIdentity` of @valhalla/contract). */
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
  /** The database's clock after the lock was granted (ms): expiry and clamped job times are judged on it. */
  nowMs: number;
  /** An acceptance number taken under the lock, when asked for (a change applied in the request). */
  newSeq: number | null;
};

/** The executed-job key of a member (its identity, see `changeIdentity` of @valhalla/contract). */
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
const resolveMember = (
  member: MemberIdentity,
  stored: (key: string) => ChangeResult | undefined,
  accepted: MemberAcceptance | null = null,
): MemberContext => {
  const key = identityOf(member);
  const executed = stored(key);
  if (executed === undefined && key !== member.jobId) {
    const legacy = stored(member.jobId);
    if (legacy !== undefined && legacy.jobCreatedAt === member.jobCreatedAt) return { executed: legacy, accepted, executionKey: member.jobId };
  }
  return { executed: executed ?? null, accepted, executionKey: key };
};

/**
 * Locks row 1 of the governance tables (every governance change takes this lock first, so changes and the audit chain
 * are serialised) and reads what a batch decides on, in one round trip: the state, the supersession watermarks, the
 * stored results of every member's identity, whether the latest verification of the migration head passed, and the
 * audit chain's head (its lock taken after the row lock, the order the outside-write trigger uses too). The reads run
 * in a statement of their own after the lock was granted (migrations 20260216_change_context, 20260301_acceptance_record), so under READ
 * COMMITTED they see every commit the lock waited for: a concurrent delivery of the same job, and watermarks another
 * writer moved without changing the state.
 * @throws AppError INTERNAL_ERROR when a seed row is missing (a migration problem; migration-verify names it).
 */
export const lockChangeContext = async (
  tx: CommonQueryMethods,
  input: { members: readonly MemberIdentity[]; migrationHead: string; allocateSeq?: boolean },
): Promise<BatchContext> => {
  const keys = input.members.flatMap((member) => {
    const key = identityOf(member);
    return key === member.jobId ? [key] : [key, member.jobId];
  });
  const row = await tx.maybeOne(sql.prepared(PREPARED_STATEMENTS.lockChangeContext, context)`
    SELECT go_live, metadata, watermarks, executed, accepted, verification_passed, head_id, head_hash, head_key_id, now_text,
           now_ms, new_seq
    FROM public.governance_change_context_v2(${sql.array(keys, 'text')}, ${input.migrationHead}, ${input.allocateSeq === true})
  `);
  if (row === null) throw new AppError('INTERNAL_ERROR', 'seed row 1 of go_live_state or system_metadata is missing');
  const stored = (key: string) => row.executed[key];
  const acceptanceOf = (member: MemberIdentity): MemberAcceptance | null => {
    const found = row.accepted[member.jobId];
    return found === undefined ? null : { seq: found.seq, createdMs: found.created_ms, acceptedMs: found.accepted_ms, voided: found.voided };
  };
  return {
    snapshot: snapshotOf({ goLive: row.go_live, metadata: row.metadata }),
    watermarks: toSafetyWatermarks(row.watermarks),
    members: input.members.map((member) => resolveMember(member, stored, acceptanceOf(member))),
    verificationPassed: row.verification_passed ?? false,
    auditHead: toChainHead(row),
    nowMs: row.now_ms,
    newSeq: row.new_seq,
  };
};
