import type { CommonQueryMethods } from 'slonik';
import { appendAuditEntries } from './appendAuditEntries.js';
import type { AuditKeyring } from './auditKeyring.js';
import { AUDIT_KINDS, type AuditEntry } from '@valhalla/contract';

/**
 * Appends one audit *event* entry (a change request step, a queue pause…) through the one audit append: something
 * that happened, in the same signed hash chain as the changes, that does not change the state (replay skips events,
 * and they do not move the state's version). `key` is unique in the log, so a re-run transaction writes it once;
 * null for an event whose writer never re-runs its transaction (migrate stamp and repair, under the migration lock; a
 * verification drift). Every writer of events calls this, the migrator included. Must run inside the writer's
 * transaction.
 */
export const appendAuditEvent = async (
  tx: CommonQueryMethods,
  keyring: AuditKeyring,
  event: { key: string | null; action: string; actor: string; reason: string; requestId: string | null; details?: Record<string, unknown> },
): Promise<AuditEntry> => {
  const [inserted] = await appendAuditEntries(
    tx,
    [{ kind: AUDIT_KINDS.event, jobId: event.key, action: event.action, actor: event.actor, reason: event.reason, requestId: event.requestId, details: event.details ?? {} }],
    keyring,
  );
  if (inserted === undefined) throw new Error('appendAuditEntries returned no entry');
  return inserted;
};
