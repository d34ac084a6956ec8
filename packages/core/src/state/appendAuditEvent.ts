import type { CommonQueryMethods } from 'slonik';
import { CHANGE_OUTCOMES, type AuditEntry, type StateSnapshot } from './model.js';
import { appendAuditEntry } from './queries/auditLog.js';

/**
 * Appends an audit *event* entry (a change request step, a queue pause…): something that happened, in the same hash
 * chain as the changes, that does not change the state. Until the audit table has its entry-kind column, an event is
 * an entry with outcome `unchanged` and before = after = the current snapshot, so replaying the log ignores it, and an
 * action name outside GOVERNANCE_ACTIONS, so the state version (readStateVersion) does not count it. This is the one
 * function to switch to the audit module's event append when that lands.
 */
export const appendAuditEvent = async (
  tx: CommonQueryMethods,
  event: { key: string; action: string; actor: string; reason: string; snapshot: StateSnapshot; requestId: string | null; details?: readonly string[] },
): Promise<AuditEntry> =>
  appendAuditEntry(tx, {
    jobId: event.key,
    action: event.action,
    outcome: CHANGE_OUTCOMES.unchanged,
    actor: event.actor,
    reason: event.reason,
    before: event.snapshot,
    after: event.snapshot,
    unmet: event.details ?? [],
    requestId: event.requestId,
  });
