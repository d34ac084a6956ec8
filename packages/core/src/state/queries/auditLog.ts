import { sql, type CommonQueryMethods } from 'slonik';
import { z } from 'zod';
import { auditEntryRow, type AuditEntry, type ChangeOutcome, type StateSnapshot } from '../model.js';

const AUDIT_COLUMNS = sql.fragment`
  id, job_id, action, outcome, actor, reason, before, after, unmet_conditions, request_id, created_at, prev_hash, hash
`;

/**
 * Appends one audit entry. The id, previous hash and hash are set by the table's trigger under its chain lock.
 * Must run in the transaction of the change it records.
 */
export const appendAuditEntry = async (
  tx: CommonQueryMethods,
  entry: {
    jobId: string | null;
    action: string;
    outcome: ChangeOutcome;
    actor: string;
    reason: string;
    before: StateSnapshot;
    after: StateSnapshot;
    unmet: readonly string[];
    requestId: string | null;
  },
): Promise<AuditEntry> =>
  tx.one(sql.type(auditEntryRow)`
    INSERT INTO public.governance_audit_log
      (job_id, action, outcome, actor, reason, before, after, unmet_conditions, request_id)
    VALUES (
      ${entry.jobId}, ${entry.action}, ${entry.outcome}, ${entry.actor}, ${entry.reason},
      ${sql.jsonb(entry.before)}, ${sql.jsonb(entry.after)}, ${sql.array([...entry.unmet], 'text')}, ${entry.requestId}
    )
    RETURNING ${AUDIT_COLUMNS}
  `);

/** Which entries a page holds: each filter given must match exactly. */
export type AuditFilter = { actor?: string | undefined; action?: string | undefined; outcome?: string | undefined };

/** Newest first; `before` is an exclusive id cursor; filters by actor, action and outcome when given. */
export const listAuditEntries = async (
  db: CommonQueryMethods,
  page: { limit: number; before?: number | undefined } & AuditFilter,
): Promise<AuditEntry[]> => {
  const conditions = [
    ...(page.before === undefined ? [] : [sql.fragment`id < ${page.before}`]),
    ...(page.actor === undefined ? [] : [sql.fragment`actor = ${page.actor}`]),
    ...(page.action === undefined ? [] : [sql.fragment`action = ${page.action}`]),
    ...(page.outcome === undefined ? [] : [sql.fragment`outcome = ${page.outcome}`]),
  ];
  return [
    ...(await db.any(sql.type(auditEntryRow)`
      SELECT ${AUDIT_COLUMNS}
      FROM public.governance_audit_log
      ${conditions.length === 0 ? sql.fragment`` : sql.fragment`WHERE ${sql.join(conditions, sql.fragment` AND `)}`}
      ORDER BY id DESC
      LIMIT ${page.limit}
    `)),
  ];
};

/** All entries in chain order (oldest first), for replay and tests. */
export const listAuditEntriesInOrder = async (db: CommonQueryMethods): Promise<AuditEntry[]> => [
  ...(await db.any(sql.type(auditEntryRow)`SELECT ${AUDIT_COLUMNS} FROM public.governance_audit_log ORDER BY id`)),
];

const brokenLink = z.object({ id: z.number(), problem: z.string() });

/**
 * Recomputes the hash chain. Returns the first row whose stored hash or previous-hash link does not match, or null
 * when the chain is intact.
 */
export const findBrokenAuditLink = async (
  db: CommonQueryMethods,
): Promise<{ id: number; problem: string } | null> =>
  db.maybeOne(sql.type(brokenLink)`
    SELECT id,
           CASE WHEN prev_hash IS DISTINCT FROM expected_prev THEN 'previous-hash link does not match the row before'
                ELSE 'stored hash does not match the row content' END AS problem
    FROM (
      SELECT a.*, lag(a.hash) OVER (ORDER BY a.id) AS expected_prev
      FROM public.governance_audit_log a
    ) chain
    WHERE prev_hash IS DISTINCT FROM expected_prev
       OR hash IS DISTINCT FROM public.governance_audit_row_hash(
            prev_hash, id, job_id, action, outcome, actor, reason, before, after, unmet_conditions, request_id, created_at)
    ORDER BY id
    LIMIT 1
  `);
