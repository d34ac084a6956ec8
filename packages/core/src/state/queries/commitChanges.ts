import { sql, type CommonQueryMethods } from 'slonik';
import { z } from 'zod';
import { PREPARED_STATEMENTS } from '../../db/preparedStatements.js';
import type { AuditKeyring } from '../audit/auditKeyring.js';
import { insertSignedAuditRows, signAuditEntries, type AuditChainHead } from '../audit/appendAuditEntries.js';
import { AUDIT_KINDS, type ChangeResult, type StateSnapshot } from '@valhalla/contract';
import type { SafetyWatermarks } from '../rules/rules.js';

const committed = z.object({ job_id: z.string(), audit_id: z.number() });

/** One decided change of a batch: its audit entry and executed-job record. */
export type DecidedChange = {
  /** The executed-job key (job id, or `<id>@<created>` for a reused id); also the audit entry's job_id. */
  jobId: string;
  queue: string;
  jobName: string;
  actor: string;
  reason: string;
  requestId: string | null;
  /** The result without its audit id, which the audit insert assigns. */
  result: Omit<ChangeResult, 'auditId'>;
  /** An Idempotency-Key the api could not claim when it queued the change (PostgreSQL down): claimed with it here. */
  keyClaim?: { key: string; requestHash: string; route: string } | undefined;
};

/** The rows a batch leaves behind: written once, with the final values, only when some member changed them. */
export type BatchRowWrites = {
  /** The go-live row's final state and who last changed it; null when no member changed it. */
  goLive: { after: StateSnapshot; actor: string; reason: string } | null;
  /** The supersession watermarks when a member moved one (an unchanged engage moves it too); null when none did. */
  watermarks: SafetyWatermarks | null;
  /** `completedNow`: some member turned backend_complete from false to true, and it is still true at the end. */
  metadata: { after: StateSnapshot; completedNow: boolean } | null;
};

/**
 * Writes a decided batch in one statement: the audit entries, signed and chained in the batch's order by the one
 * audit append (appendAuditEntries' signing and set-based insert, folded into this statement), the executed-job
 * records joined to the audit ids, and row 1 of each governance table at most once with its final values. One round
 * trip whatever the batch size, instead of one statement (or a SAVEPOINT) per member.
 * @returns the audit id of each member, by executed-job key.
 */
export const commitChanges = async (
  tx: CommonQueryMethods,
  changes: readonly DecidedChange[],
  writes: BatchRowWrites,
  audit: { head: AuditChainHead; keyring: AuditKeyring },
): Promise<Map<string, number>> => {
  const { rows: signed } = signAuditEntries(
    audit.head,
    changes.map((change) => ({
      kind: AUDIT_KINDS.change,
      jobId: change.jobId,
      action: change.result.action,
      outcome: change.result.outcome,
      actor: change.actor,
      reason: change.reason,
      before: change.result.before,
      after: change.result.after,
      unmet: change.result.unmet,
      requestId: change.requestId,
    })),
    audit.keyring,
  );
  const members = changes.map((change) => ({ job_id: change.jobId, queue: change.queue, job_name: change.jobName, outcome: change.result.outcome, result: change.result }));
  const goLive = writes.goLive;
  const changed = goLive !== null;
  const metadata = writes.metadata;
  const marks = writes.watermarks;
  const claims = changes.flatMap((change) =>
    change.keyClaim === undefined
      ? []
      : [{ actor: change.actor, key: change.keyClaim.key, request_hash: change.keyClaim.requestHash, route: change.keyClaim.route, queue: change.queue, job_id: change.jobId }],
  );
  // Only when a member carries one: an empty CTE would still be planned in every batch.
  const claimKeys =
    claims.length === 0
      ? sql.fragment``
      : sql.fragment`
    key_claims AS (
      INSERT INTO public.idempotency_keys (actor, idempotency_key, request_hash, route, queue, job_id)
      SELECT c.actor, c.key, c.request_hash, c.route, c.queue, c.job_id
      FROM jsonb_to_recordset(${sql.jsonb(claims)}) AS c(actor text, key text, request_hash text, route text, queue text, job_id text)
      ON CONFLICT (actor, idempotency_key) DO NOTHING
    ),`;
  const rows = await tx.any(sql.prepared(claims.length === 0 ? PREPARED_STATEMENTS.commitChanges : PREPARED_STATEMENTS.commitChangesWithClaims, committed)`
    WITH input AS (
      SELECT * FROM jsonb_to_recordset(${sql.jsonb(members)}) AS x(job_id text, queue text, job_name text, outcome text, result jsonb)
    ),
    go_live_update AS (
      UPDATE public.go_live_state
      SET go_live_enabled = ${goLive?.after.go_live_enabled ?? false},
          kill_switch_engaged = ${goLive?.after.kill_switch_engaged ?? true},
          changed_by = ${goLive?.actor ?? null},
          reason = ${goLive?.reason ?? null},
          updated_at = (now() AT TIME ZONE 'UTC')
      WHERE id = 1 AND ${changed}
    ),
    watermarks AS (
      INSERT INTO public.governance_safety_watermarks (id, engage_ms, disable_ms, engage_seq, disable_seq, engage_direct_ms, disable_direct_ms)
      SELECT 1, ${marks?.engageMs ?? null}::bigint, ${marks?.disableMs ?? null}::bigint, ${marks?.engageSeq ?? null}::bigint,
             ${marks?.disableSeq ?? null}::bigint, ${marks?.engageDirectMs ?? null}::bigint, ${marks?.disableDirectMs ?? null}::bigint
      WHERE ${marks !== null}
      ON CONFLICT (id) DO UPDATE SET engage_ms = excluded.engage_ms, disable_ms = excluded.disable_ms,
        engage_seq = excluded.engage_seq, disable_seq = excluded.disable_seq,
        engage_direct_ms = excluded.engage_direct_ms, disable_direct_ms = excluded.disable_direct_ms, updated_at = now()
    ),
    metadata_update AS (
      UPDATE public.system_metadata
      SET version = ${metadata?.after.version ?? ''},
          backend_complete = ${metadata?.after.backend_complete ?? false},
          notes = ${metadata?.after.notes ?? null},
          updated_at = (now() AT TIME ZONE 'UTC'),
          completed_at = CASE
            WHEN ${metadata?.completedNow ?? false} THEN (now() AT TIME ZONE 'UTC')
            WHEN ${metadata?.after.backend_complete ?? false} THEN completed_at
            ELSE NULL
          END
      WHERE id = 1 AND ${metadata !== null}
    ),
    ${claimKeys}
    audit AS (${insertSignedAuditRows(signed)} RETURNING id, job_id)
    INSERT INTO public.governance_executed_jobs (job_id, queue, job_name, outcome, result)
    SELECT i.job_id, i.queue, i.job_name, i.outcome, i.result || jsonb_build_object('auditId', a.id)
    FROM input i JOIN audit a ON a.job_id = i.job_id
    RETURNING job_id, (result->>'auditId')::bigint AS audit_id
  `);
  return new Map(rows.map((row) => [row.job_id, row.audit_id]));
};
