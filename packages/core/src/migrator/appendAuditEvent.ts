import type pg from 'pg';

/** What an event entry records: something that happened to the system, not a change of the go-live state. */
export type AuditEvent = {
  /** e.g. `migration.stamp`, `migration.repair`, `verification.drift`. */
  action: string;
  actor: string;
  reason: string;
  /** Facts of the event (revisions, checksums, failed checks), kept with the entry. */
  details: Record<string, unknown>;
};

/**
 * Appends an *event* entry to the governance audit log, in the caller's transaction (the ledger write it records
 * commits with it, or neither does).
 *
 * The one place migrator and watchdog write events, so it can switch to issue 13's audit append function (entry
 * kind column) in one edit. Until then the current schema knows only change entries: an event is written as an
 * `unchanged` entry whose before and after are the current state (replaying the log still gives the state), with the
 * details appended to the reason as JSON.
 * @throws the database error, e.g. when the audit log or the state rows do not exist yet.
 */
export const appendAuditEvent = async (client: pg.ClientBase, event: AuditEvent): Promise<number> => {
  const result = await client.query<{ id: string }>(
    `INSERT INTO public.governance_audit_log (job_id, action, outcome, actor, reason, before, after)
     SELECT NULL, $1, 'unchanged', $2, $3, s.snapshot, s.snapshot
     FROM (
       SELECT jsonb_build_object(
         'go_live_enabled', g.go_live_enabled, 'kill_switch_engaged', g.kill_switch_engaged,
         'live', g.go_live_enabled AND NOT g.kill_switch_engaged,
         'version', m.version, 'backend_complete', m.backend_complete, 'notes', m.notes) AS snapshot
       FROM public.go_live_state g, public.system_metadata m WHERE g.id = 1 AND m.id = 1
     ) s
     RETURNING id`,
    [event.action, event.actor, `${event.reason} ${JSON.stringify(event.details)}`],
  );
  const id = result.rows[0]?.id;
  if (id === undefined) throw new Error('the audit event was not written: row 1 of go_live_state or system_metadata is missing');
  return Number(id);
};
