import { sql, type CommonQueryMethods } from 'slonik';
import { AUDIT_COLUMNS } from '../audit/appendAuditEntries.js';
import { auditEntryRow, type AuditEntry } from '@valhalla/contract';

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
