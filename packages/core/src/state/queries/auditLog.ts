import { sql, type CommonQueryMethods } from 'slonik';
import { AUDIT_COLUMNS } from '../audit/appendAuditEntries.js';
import { auditEntryRow, type AuditEntry } from '../model.js';

/** Newest first; `before` is an exclusive id cursor. */
export const listAuditEntries = async (
  db: CommonQueryMethods,
  page: { limit: number; before?: number | undefined },
): Promise<AuditEntry[]> =>
  [
    ...(await db.any(sql.type(auditEntryRow)`
      SELECT ${AUDIT_COLUMNS}
      FROM public.governance_audit_log
      ${page.before === undefined ? sql.fragment`` : sql.fragment`WHERE id < ${page.before}`}
      ORDER BY id DESC
      LIMIT ${page.limit}
    `)),
  ];

/** All entries in chain order (oldest first), for replay and tests. */
export const listAuditEntriesInOrder = async (db: CommonQueryMethods): Promise<AuditEntry[]> => [
  ...(await db.any(sql.type(auditEntryRow)`SELECT ${AUDIT_COLUMNS} FROM public.governance_audit_log ORDER BY id`)),
];
