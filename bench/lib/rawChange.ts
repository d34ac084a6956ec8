import type pg from 'pg';

/**
 * The baseline: the same transaction the worker runs for one change (lock row 1 of both tables, look up the job id,
 * update the state, append the audit row, record the executed job), issued directly with `pg`.
 */
export const rawChangeTransaction = async (client: pg.ClientBase, jobId: string, engage: boolean): Promise<void> => {
  await client.query('BEGIN');
  try {
    const state = await client.query('SELECT go_live_enabled, kill_switch_engaged FROM public.go_live_state WHERE id = 1 FOR UPDATE');
    const metadata = await client.query('SELECT version, backend_complete, notes FROM public.system_metadata WHERE id = 1 FOR UPDATE');
    await client.query('SELECT result FROM public.governance_executed_jobs WHERE job_id = $1', [jobId]);
    const before = { ...state.rows[0], ...metadata.rows[0] };
    const after = { ...before, kill_switch_engaged: engage };
    await client.query(
      `UPDATE public.go_live_state SET kill_switch_engaged = $1, changed_by = 'bench', reason = 'bench', updated_at = (now() AT TIME ZONE 'UTC') WHERE id = 1`,
      [engage],
    );
    const audit = await client.query(
      `INSERT INTO public.governance_audit_log (job_id, action, outcome, actor, reason, before, after)
       VALUES ($1, $2, 'applied', 'bench', 'bench', $3, $4) RETURNING id`,
      [jobId, engage ? 'kill_switch.engage' : 'kill_switch.release', JSON.stringify(before), JSON.stringify(after)],
    );
    await client.query(
      `INSERT INTO public.governance_executed_jobs (job_id, queue, job_name, outcome, result) VALUES ($1, 'governance', 'go-live-change', 'applied', $2)`,
      [jobId, JSON.stringify({ auditId: audit.rows[0].id })],
    );
    await client.query('COMMIT');
  } catch (error) {
    await client.query('ROLLBACK').catch(() => {});
    throw error;
  }
};
