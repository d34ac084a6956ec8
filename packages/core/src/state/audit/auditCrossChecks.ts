import { sql, type CommonQueryMethods } from 'slonik';
import { z } from 'zod';

/** The event action the outside-write trigger records (an UPDATE of the governance tables not made by the product). */
export const OUTSIDE_WRITE_ACTION = 'outside_write';

/** A problem found by a cross-check: what is wrong, and the first row it concerns. */
type Found = { problem: string; firstBadId: number };

const crossCheckRow = z.object({ job_id: z.string(), audit_id: z.number(), audit_job_id: z.string().nullable(), found: z.boolean() });

/**
 * Every executed governance job names the audit entry its change wrote: a missing entry, or one that belongs to
 * another job, means rows were deleted or rewritten (also the newest rows, before any checkpoint exists).
 */
const crossCheckExecutedJobs = async (db: CommonQueryMethods, afterAuditId: number): Promise<Found | null> => {
  const row = await db.maybeOne(sql.type(crossCheckRow)`
    SELECT e.job_id, (e.result->>'auditId')::bigint AS audit_id, a.job_id AS audit_job_id, a.id IS NOT NULL AS found
    FROM public.governance_executed_jobs e
    LEFT JOIN public.governance_audit_log a ON a.id = (e.result->>'auditId')::bigint
    WHERE (e.result->>'auditId')::bigint > ${afterAuditId}
      AND (a.id IS NULL OR a.job_id IS DISTINCT FROM e.job_id)
    ORDER BY (e.result->>'auditId')::bigint
    LIMIT 1
  `);
  if (row === null) return null;
  return {
    problem: row.found
      ? `row ${row.audit_id} belongs to job ${row.audit_job_id ?? '(none)'}, but executed job ${row.job_id} recorded it as its audit entry (rows were rewritten or reordered)`
      : `row ${row.audit_id} is missing: executed job ${row.job_id} recorded it as its audit entry`,
    firstBadId: row.audit_id,
  };
};

const goLiveWitness = z.object({
  go_live_enabled: z.boolean(),
  kill_switch_engaged: z.boolean(),
  entry_id: z.number().nullable(),
  logged_go_live: z.boolean().nullable(),
  logged_kill_switch: z.boolean().nullable(),
});

/**
 * The go-live state must be what the log's newest entry about it recorded: a change entry's `after`, or the row an
 * outside write left. Deleting the newest entries (events after the last checkpoint have no other witness) or writing
 * the state with the audit trigger switched off leaves them apart. Read in one statement, so a change committing
 * meanwhile is seen on both sides or neither. A log with no such entry (a database adopted as it was) is not judged.
 */
const crossCheckGoLiveState = async (db: CommonQueryMethods): Promise<Found | null> => {
  const row = await db.maybeOne(sql.type(goLiveWitness)`
    SELECT g.go_live_enabled, g.kill_switch_engaged, e.id AS entry_id,
           (e.after->>'go_live_enabled')::boolean AS logged_go_live,
           (e.after->>'kill_switch_engaged')::boolean AS logged_kill_switch
    FROM public.go_live_state g
    LEFT JOIN LATERAL (
      SELECT id, after FROM public.governance_audit_log
      WHERE (kind = 'change' AND after->'kill_switch_engaged' IS NOT NULL)
         OR (kind = 'event' AND action = ${OUTSIDE_WRITE_ACTION} AND details->>'table' = 'public.go_live_state')
      ORDER BY id DESC LIMIT 1
    ) e ON true
    WHERE g.id = 1
  `);
  if (row === null || row.entry_id === null || row.logged_go_live === null || row.logged_kill_switch === null) return null;
  if (row.go_live_enabled === row.logged_go_live && row.kill_switch_engaged === row.logged_kill_switch) return null;
  return {
    problem:
      `go_live_state (go_live_enabled ${row.go_live_enabled}, kill_switch_engaged ${row.kill_switch_engaged}) is not what row ${row.entry_id}, ` +
      `the newest entry about it, recorded (${row.logged_go_live}, ${row.logged_kill_switch}): newer rows were deleted, or the state was written with its audit trigger off`,
    firstBadId: row.entry_id + 1,
  };
};

const metadataWitness = z.object({
  version: z.string(),
  backend_complete: z.boolean(),
  notes: z.string().nullable(),
  entry_id: z.number().nullable(),
  logged_version: z.string().nullable(),
  logged_backend_complete: z.boolean().nullable(),
  logged_notes: z.string().nullable(),
});

/**
 * The same for `system_metadata` (what go-live's `backend_complete` precondition reads): its version, backend_complete
 * and notes must be what the newest entry about them recorded, a change entry's `after` (every change records the
 * whole state) or the row an outside write left. `UPDATE system_metadata SET backend_complete = true` followed by
 * deleting its outside-write event, or a metadata change deleted with its executed-job record, leave them apart.
 */
const crossCheckSystemMetadata = async (db: CommonQueryMethods): Promise<Found | null> => {
  const row = await db.maybeOne(sql.type(metadataWitness)`
    SELECT m.version::text AS version, m.backend_complete, m.notes::text AS notes, e.id AS entry_id,
           e.after->>'version' AS logged_version, (e.after->>'backend_complete')::boolean AS logged_backend_complete,
           e.after->>'notes' AS logged_notes
    FROM public.system_metadata m
    LEFT JOIN LATERAL (
      SELECT id, after FROM public.governance_audit_log
      WHERE (kind = 'change' AND after->'backend_complete' IS NOT NULL)
         OR (kind = 'event' AND action = ${OUTSIDE_WRITE_ACTION} AND details->>'table' = 'public.system_metadata')
      ORDER BY id DESC LIMIT 1
    ) e ON true
    WHERE m.id = 1
  `);
  if (row === null || row.entry_id === null || row.logged_backend_complete === null) return null;
  const differs: string[] = [];
  if (row.backend_complete !== row.logged_backend_complete) differs.push(`backend_complete ${row.backend_complete}, recorded ${row.logged_backend_complete}`);
  if (row.version !== row.logged_version) differs.push(`version ${JSON.stringify(row.version)}, recorded ${JSON.stringify(row.logged_version)}`);
  if (row.notes !== row.logged_notes) differs.push('notes differ from the recorded notes');
  if (differs.length === 0) return null;
  return {
    problem:
      `system_metadata is not what row ${row.entry_id}, the newest entry about it, recorded (${differs.join('; ')}): ` +
      'newer rows were deleted, or the row was written with its audit trigger off',
    firstBadId: row.entry_id + 1,
  };
};

const headWitness = z.object({
  witness_id: z.number().nullable(),
  witness_hash: z.string().nullable(),
  max_id: z.number().nullable(),
  hash_at_witness: z.string().nullable(),
});

/**
 * The log against its head witness (`governance_audit_head`, revision 20260302_audit_sequence): every appending
 * statement moves the witness to its newest row in the same transaction, so the log's newest row must be the witness's
 * row, with the witnessed hash. Read in one statement. No witness (a database on an older revision, or nothing
 * appended since the revision) is not judged.
 */
const checkHeadWitness = async (db: CommonQueryMethods): Promise<Found | null> => {
  const exists = await db.oneFirst(sql.type(z.object({ exists: z.boolean() }))`
    SELECT to_regclass('public.governance_audit_head') IS NOT NULL AS exists
  `);
  if (!exists) return null;
  const row = await db.maybeOne(sql.type(headWitness)`
    SELECT w.last_id AS witness_id, w.last_hash AS witness_hash,
           (SELECT max(id) FROM public.governance_audit_log) AS max_id,
           (SELECT a.hash FROM public.governance_audit_log a WHERE a.id = w.last_id) AS hash_at_witness
    FROM public.governance_audit_head w WHERE w.id = 1
  `);
  if (row === null || row.witness_id === null) return null;
  const witness = row.witness_id;
  const maxId = row.max_id ?? 0;
  if (maxId < witness) {
    return {
      problem:
        maxId + 1 === witness
          ? `row ${witness} is missing: the chain head witness (governance_audit_head) saw it as the newest row (the newest rows were deleted)`
          : `rows ${maxId + 1}..${witness} are missing: the chain head witness (governance_audit_head) saw row ${witness} as the newest (the newest rows were deleted)`,
      firstBadId: maxId + 1,
    };
  }
  if (row.hash_at_witness === null) {
    return { problem: `row ${witness} is missing: the chain head witness (governance_audit_head) saw it`, firstBadId: witness };
  }
  if (row.hash_at_witness !== row.witness_hash) {
    return { problem: `row ${witness} changed since the chain head witness (governance_audit_head) recorded it (its hash differs)`, firstBadId: witness };
  }
  if (maxId > witness) {
    return {
      problem: `rows ${witness + 1}..${maxId} were added without moving the chain head witness (governance_audit_head): written with the log's triggers off`,
      firstBadId: witness + 1,
    };
  }
  return null;
};

/**
 * What verification compares the log with, besides the chain itself: the executed-job records after `afterAuditId`,
 * the two state rows, and the chain head witness. Returns the first problem, or null.
 */
export const runAuditCrossChecks = async (db: CommonQueryMethods, afterAuditId: number): Promise<Found | null> =>
  (await crossCheckExecutedJobs(db, afterAuditId)) ??
  (await crossCheckGoLiveState(db)) ??
  (await crossCheckSystemMetadata(db)) ??
  (await checkHeadWitness(db));
