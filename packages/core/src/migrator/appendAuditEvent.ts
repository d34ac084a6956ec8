import { sql, type CommonQueryMethods } from 'slonik';
import { appendAuditEntries } from '../state/audit/appendAuditEntries.js';
import type { AuditKeyring } from '../state/audit/auditKeyring.js';
import { AUDIT_KINDS } from '@valhalla/contract';

/** What an event entry records: something that happened to the system, not a change of the go-live state. */
export type AuditEvent = {
  /** e.g. `migration.stamp`, `migration.repair`, `verification.drift`. */
  action: string;
  actor: string;
  reason: string;
  /** Facts of the event (revisions, checksums, failed checks), kept in the entry's details. */
  details: Record<string, unknown>;
};

/**
 * Appends an *event* entry through the one audit append function (signed and chained like every entry), in the
 * caller's transaction: the ledger write it records commits with it, or neither does.
 * @returns the entry's id.
 */
export const appendAuditEvent = async (tx: CommonQueryMethods, keyring: AuditKeyring, event: AuditEvent): Promise<number> => {
  const [entry] = await appendAuditEntries(tx, [{ kind: AUDIT_KINDS.event, ...event }], keyring);
  if (entry === undefined) throw new Error('the audit event was not written');
  return entry.id;
};

/** Whether the keyed audit chain exists yet (revision 20260210_audit_chain_keyed made its head function). */
export const auditLogExists = async (tx: CommonQueryMethods): Promise<boolean> =>
  (await tx.oneFirst(sql.unsafe`SELECT to_regprocedure('public.governance_audit_chain_head()') IS NOT NULL AS exists`)) === true;
