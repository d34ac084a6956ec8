import { randomUUID } from 'node:crypto';
import type { DatabasePool } from 'slonik';
import { runInTransaction } from '../db/runInTransaction.js';
import { appendAuditEvent } from './audit/appendAuditEvent.js';
import type { AuditKeyring } from './audit/auditKeyring.js';
import type { AuditEntry } from '@valhalla/contract';
import { lockGovernanceRows } from './queries/governanceState.js';

/** Audit actions of queue controls: a paused queue holds back its changes (governance-safety: engages and disables). */
export const QUEUE_EVENTS = { paused: 'queue.paused', resumed: 'queue.resumed', failed: 'queue.control_failed' } as const;
export type QueueEvent = (typeof QUEUE_EVENTS)[keyof typeof QUEUE_EVENTS];

/**
 * Appends the audit event of a queue pause or resume (or of one that then failed), in its own transaction, locked
 * like every audit writer. Database work only, safe to re-run.
 * @throws RetryableDatabaseError on a lost connection or exhausted serialization retries.
 */
export const recordQueueEvent = async (
  pool: DatabasePool,
  keyring: AuditKeyring,
  event: { action: QueueEvent; queue: string; actor: string; reason: string; requestId: string | null; details?: Record<string, unknown> },
): Promise<AuditEntry> =>
  runInTransaction(pool, async (tx) => {
    await lockGovernanceRows(tx);
    return appendAuditEvent(tx, keyring, {
      key: `${event.action}:${event.queue}:${randomUUID()}`,
      action: event.action,
      actor: event.actor,
      reason: event.reason,
      requestId: event.requestId,
      details: { queue: event.queue, ...event.details },
    });
  });
