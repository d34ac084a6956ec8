import type pg from 'pg';

/**
 * The baseline: the transaction the worker runs for one change, statement for statement (lock row 1 of both tables;
 * look up the job id and the verification; update the state, append the audit row and record the executed job in
 * one statement), issued directly with `pg`: no HTTP, no queue, no slonik.
 */
export const rawChangeTransaction = async (client: pg.ClientBase, jobId: string, engage: boolean): Promise<void> => {
  await client.query('BEGIN');
  try {
    const rows = await client.query<Record<string, unknown>>(
      `SELECT g.go_live_enabled, g.kill_switch_engaged, m.version, m.backend_complete, m.notes
       FROM public.go_live_state g CROSS JOIN public.system_metadata m WHERE g.id = 1 AND m.id = 1 FOR UPDATE OF g, m`,
    );
    await client.query(
      `SELECT (SELECT result FROM public.governance_executed_jobs WHERE job_id = $1) AS executed,
              (SELECT passed FROM public.verification_runs WHERE migration_head = $2 ORDER BY id DESC LIMIT 1) AS passed`,
      [jobId, 'bench'],
    );
    const before = { ...rows.rows[0], live: false };
    const after = { ...before, kill_switch_engaged: engage };
    const action = engage ? 'kill_switch.engage' : 'kill_switch.release';
    await client.query(
      `WITH go_live_update AS (
         UPDATE public.go_live_state SET kill_switch_engaged = $1, changed_by = 'bench', reason = 'bench',
                updated_at = (now() AT TIME ZONE 'UTC') WHERE id = 1
       ),
       audit AS (
         INSERT INTO public.governance_audit_log (job_id, action, outcome, actor, reason, before, after, unmet_conditions, request_id)
         VALUES ($2, $3, 'applied', 'bench', 'bench', $4, $5, '{}', NULL) RETURNING id
       )
       INSERT INTO public.governance_executed_jobs (job_id, queue, job_name, outcome, result)
       SELECT $2, 'governance', 'go-live-change', 'applied', $6::jsonb || jsonb_build_object('auditId', audit.id) FROM audit
       RETURNING (result->>'auditId')::bigint AS audit_id`,
      [engage, jobId, action, JSON.stringify(before), JSON.stringify(after), JSON.stringify({ outcome: 'applied', action, before, after, unmet: [] })],
    );
    await client.query('COMMIT');
  } catch (error) {
    await client.query('ROLLBACK').catch(() => {});
    throw error;
  }
};
