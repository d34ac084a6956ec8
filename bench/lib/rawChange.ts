import type pg from 'pg';
import { createAuditKeyring, DEVELOPMENT_AUDIT_KEY, signAuditEntries } from '@valhalla/core';
import { type StateSnapshot } from '@valhalla/contract';

const keyring = createAuditKeyring([DEVELOPMENT_AUDIT_KEY]);

/**
 * The baseline: the transaction the worker runs for one change, statement for statement (lock row 1 of both tables;
 * look up the job id and the verification; update the state, append the audit row and record the executed job in
 * one statement), issued directly with `pg`: no HTTP, no queue, no slonik. Like the worker it marks the write as the
 * product's, reads the audit chain head under the chain lock and inserts a keyed (HMAC) audit row.
 */
export const rawChangeTransaction = async (client: pg.ClientBase, jobId: string, engage: boolean): Promise<void> => {
  await client.query('BEGIN');
  try {
    const rows = await client.query<Record<string, unknown>>(
      `SELECT g.go_live_enabled, g.kill_switch_engaged, m.version, m.backend_complete, m.notes
              , set_config('valhalla.change', 'on', true)
       FROM public.go_live_state g CROSS JOIN public.system_metadata m WHERE g.id = 1 AND m.id = 1 FOR UPDATE OF g, m`,
    );
    const context = await client.query<{ head_id: string | null; head_hash: string | null; head_key_id: string | null; now_text: string }>(
      `SELECT (SELECT result FROM public.governance_executed_jobs WHERE job_id = $1) AS executed,
              (SELECT passed FROM public.verification_runs WHERE migration_head = $2 ORDER BY id DESC LIMIT 1) AS passed,
              h.head_id, h.head_hash, h.head_key_id, h.now_text
       FROM public.governance_audit_chain_head() h`,
      [jobId, 'bench'],
    );
    const head = context.rows[0];
    if (head === undefined) throw new Error('governance_audit_chain_head() returned no row');
    const before = { ...(rows.rows[0] as Omit<StateSnapshot, 'live'>), live: false };
    const after = { ...before, kill_switch_engaged: engage };
    const action = engage ? 'kill_switch.engage' : 'kill_switch.release';
    const signed = signAuditEntries(
      { id: Number(head.head_id ?? 0), hash: head.head_hash, keyId: head.head_key_id, now: head.now_text },
      [{ kind: 'change', jobId, action, outcome: 'applied', actor: 'bench', reason: 'bench', before, after }],
      keyring,
    );
    await client.query(
      `WITH go_live_update AS (
         UPDATE public.go_live_state SET kill_switch_engaged = $1, changed_by = 'bench', reason = 'bench',
                updated_at = (now() AT TIME ZONE 'UTC') WHERE id = 1
       ),
       audit AS (
         INSERT INTO public.governance_audit_log
           (id, prev_hash, hash, key_id, created_at, kind, job_id, action, outcome, actor, reason, before, after,
            unmet_conditions, request_id, details)
         SELECT r.id, r.prev_hash, r.hash, r.key_id, r.created_at::timestamptz, r.kind, r.job_id, r.action, r.outcome,
                r.actor, r.reason, r.before, r.after, ARRAY(SELECT jsonb_array_elements_text(r.unmet_conditions)),
                r.request_id, r.details
         FROM jsonb_to_recordset($3::jsonb) AS r(id BIGINT, prev_hash TEXT, hash TEXT, key_id TEXT, created_at TEXT,
           kind TEXT, job_id TEXT, action TEXT, outcome TEXT, actor TEXT, reason TEXT, before JSONB, after JSONB,
           unmet_conditions JSONB, request_id TEXT, details JSONB)
       )
       INSERT INTO public.governance_executed_jobs (job_id, queue, job_name, outcome, result)
       VALUES ($2, 'governance', 'go-live-change', 'applied', $4::jsonb)
       RETURNING (result->>'auditId')::bigint AS audit_id`,
      [engage, jobId, JSON.stringify(signed.rows), JSON.stringify({ outcome: 'applied', action, before, after, unmet: [], auditId: signed.ids[0] })],
    );
    await client.query('COMMIT');
  } catch (error) {
    await client.query('ROLLBACK').catch(() => {});
    throw error;
  }
};
