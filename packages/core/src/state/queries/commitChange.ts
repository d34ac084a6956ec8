import { sql, type CommonQueryMethods } from 'slonik';
import { z } from 'zod';
import type { AuditKeyring } from '../audit/auditKeyring.js';
import { insertSignedAuditRows, signAuditEntries, type AuditChainHead } from '../audit/appendAuditEntries.js';
import { AUDIT_KINDS, type ChangeResult, type StateSnapshot } from '../model.js';

const committed = z.object({ audit_id: z.number() });

export type ChangeToCommit = {
  jobId: string;
  queue: string;
  jobName: string;
  actor: string;
  reason: string;
  requestId: string | null;
  /** Which row the change writes (none when unchanged or rejected). */
  writes: 'go_live_state' | 'system_metadata' | 'nothing';
  /** The result without its audit id, which the audit insert assigns. */
  result: Omit<ChangeResult, 'auditId'>;
  /** The chain head read under the chain lock earlier in this transaction (readChangeContext). */
  auditHead: AuditChainHead;
};

/**
 * Writes a decided change in one statement: the row update (if any), the audit entry and the executed-job record,
 * as data-modifying CTEs. One round trip instead of three keeps the row lock short. `updated_at` columns hold UTC
 * (they have no zone); `completed_at` records when backend_complete last became true.
 * The audit entry is signed here (appendAuditEntries' signing and insert, folded into this statement).
 * @returns the audit entry's id.
 */
export const commitChange = async (tx: CommonQueryMethods, change: ChangeToCommit, keyring: AuditKeyring): Promise<number> => {
  const after: StateSnapshot = change.result.after;
  const { rows, ids } = signAuditEntries(
    change.auditHead,
    [
      {
        kind: AUDIT_KINDS.change,
        jobId: change.jobId,
        action: change.result.action,
        outcome: change.result.outcome,
        actor: change.actor,
        reason: change.reason,
        before: change.result.before,
        after,
        unmet: change.result.unmet,
        requestId: change.requestId,
      },
    ],
    keyring,
  );
  const auditId = ids[0] ?? 0;
  const writeGoLive = change.writes === 'go_live_state';
  const writeMetadata = change.writes === 'system_metadata';
  const row = await tx.one(sql.type(committed)`
    WITH go_live_update AS (
      UPDATE public.go_live_state
      SET go_live_enabled = ${after.go_live_enabled},
          kill_switch_engaged = ${after.kill_switch_engaged},
          changed_by = ${change.actor},
          reason = ${change.reason},
          updated_at = (now() AT TIME ZONE 'UTC')
      WHERE id = 1 AND ${writeGoLive}
    ),
    metadata_update AS (
      UPDATE public.system_metadata
      SET version = ${after.version},
          backend_complete = ${after.backend_complete},
          notes = ${after.notes},
          updated_at = (now() AT TIME ZONE 'UTC'),
          completed_at = CASE
            WHEN ${after.backend_complete} AND NOT backend_complete THEN (now() AT TIME ZONE 'UTC')
            WHEN ${after.backend_complete} THEN completed_at
            ELSE NULL
          END
      WHERE id = 1 AND ${writeMetadata}
    ),
    audit AS (${insertSignedAuditRows(rows)})
    INSERT INTO public.governance_executed_jobs (job_id, queue, job_name, outcome, result)
    VALUES (${change.jobId}, ${change.queue}, ${change.jobName}, ${change.result.outcome},
            ${sql.jsonb({ ...change.result, auditId })})
    RETURNING (result->>'auditId')::bigint AS audit_id
  `);
  return row.audit_id;
};
