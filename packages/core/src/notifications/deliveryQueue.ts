import { randomUUID } from 'node:crypto';
import { sql, type CommonQueryMethods, type DatabasePool } from 'slonik';
import { z } from 'zod';
import { runInTransaction } from '../db/runInTransaction.js';
import { appendAuditEvent } from '../state/audit/appendAuditEvent.js';
import type { AuditKeyring } from '../state/audit/auditKeyring.js';
import { auditEntryRow, type AuditEntry } from '@valhalla/contract';
import { SUBSCRIPTION_KIND_VALUES, type SubscriptionKind } from '@valhalla/contract';
import { NOTIFICATION_EVENTS, type DeliveryFailureCode } from './model.js';

/**
 * PostgreSQL is the queue: a worker claims subscriptions that have a due head delivery with FOR UPDATE SKIP LOCKED
 * and takes a lease on each (lease_owner, lease_until), delivers outside any transaction (nothing is locked while a
 * receiver answers), and records the outcome only while it still holds the lease. A worker that dies loses its lease
 * when it expires; whoever claims next sends the same head again (at least once, same webhook-id). One lease per
 * subscription and one delivery at a time under it keep audit order; a recorded success moves delivered_through
 * past the head, never back.
 */

/**
 * A subscription this worker holds the lease of, with its next pending deliveries (the audit entries, in audit order,
 * up to the batch size asked for) and what sending them needs (the sealed target and secret).
 */
export type LeasedSubscription = {
  subscriptionId: string;
  kind: SubscriptionKind;
  targetCiphertext: string;
  secretCiphertext: string | null;
  consecutiveFailures: number;
  entries: AuditEntry[];
};

const leasedRow = z.object({
  subscription_id: z.string(),
  kind: z.enum(SUBSCRIPTION_KIND_VALUES),
  target_ciphertext: z.string(),
  secret_ciphertext: z.string().nullable(),
  consecutive_failures: z.number(),
  entries: z.array(z.unknown()).nullable(),
});

const toLeased = (row: z.infer<typeof leasedRow>): LeasedSubscription => ({
  subscriptionId: row.subscription_id,
  kind: row.kind,
  targetCiphertext: row.target_ciphertext,
  secretCiphertext: row.secret_ciphertext,
  consecutiveFailures: row.consecutive_failures,
  entries: (row.entries ?? []).map((entry) => auditEntryRow.parse(entry)),
});

/** The audit entry as JSON, in the shape of auditEntryRow (timestamps as ISO text, as the pool's parsers give them). */
const ENTRY_JSON = sql.fragment`jsonb_build_object(
  'id', a.id, 'kind', a.kind, 'job_id', a.job_id, 'action', a.action, 'outcome', a.outcome, 'actor', a.actor,
  'reason', a.reason, 'before', a.before, 'after', a.after, 'unmet_conditions', to_jsonb(a.unmet_conditions),
  'request_id', a.request_id, 'created_at', to_char(a.created_at AT TIME ZONE 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS.MS"Z"'),
  'prev_hash', a.prev_hash, 'hash', a.hash, 'key_id', a.key_id, 'details', a.details)`;

/** The next `limit` pending deliveries of subscription `s` after audit id `after`, as a JSON array in audit order. */
const pendingOf = (after: ReturnType<typeof sql.fragment>, limit: number) => sql.fragment`
  SELECT jsonb_agg(p.entry ORDER BY p.audit_id) AS entries FROM (
    SELECT d.audit_id, ${ENTRY_JSON} AS entry
    FROM public.notification_deliveries d
    JOIN public.governance_audit_log a ON a.id = d.audit_id
    WHERE d.subscription_id = s.id AND d.audit_id > ${after}
    ORDER BY d.audit_id
    LIMIT ${limit}
  ) p
`;

const leaseFor = (leaseMs: number) => sql.fragment`now() + make_interval(secs => ${leaseMs / 1000})`;

/**
 * Claims up to `limit` subscriptions whose head delivery is due: enabled, not dead-lettered, past their backoff, not
 * leased by another worker, not among `exclude` (those this worker is delivering right now). Takes a lease of
 * `leaseMs` on each and returns each with its next `batch` pending deliveries, most overdue first.
 */
export const claimDueSubscriptions = async (
  db: CommonQueryMethods,
  input: { workerId: string; limit: number; leaseMs: number; exclude: readonly string[]; batch: number },
): Promise<LeasedSubscription[]> => {
  const rows = await db.any(sql.type(leasedRow)`
    WITH due AS (
      SELECT s.id FROM public.notification_subscriptions s
      WHERE s.enabled AND s.dead_lettered_at IS NULL AND s.next_attempt_at <= now()
        AND (s.lease_until IS NULL OR s.lease_until < now() OR s.lease_owner = ${input.workerId})
        AND NOT (s.id = ANY (${sql.array(input.exclude, 'uuid')}))
        AND EXISTS (SELECT 1 FROM public.notification_deliveries d WHERE d.subscription_id = s.id AND d.audit_id > s.delivered_through)
      ORDER BY s.next_attempt_at, s.id
      LIMIT ${input.limit}
      FOR UPDATE OF s SKIP LOCKED
    ),
    claimed AS (
      UPDATE public.notification_subscriptions s SET lease_owner = ${input.workerId}, lease_until = ${leaseFor(input.leaseMs)}
      FROM due WHERE s.id = due.id
      RETURNING s.*
    )
    SELECT s.id::text AS subscription_id, s.kind, s.target_ciphertext, s.secret_ciphertext, s.consecutive_failures, p.entries
    FROM claimed s
    CROSS JOIN LATERAL (${pendingOf(sql.fragment`s.delivered_through`, input.batch)}) p
    ORDER BY s.next_attempt_at, s.id
  `);
  return rows.map(toLeased);
};

/**
 * Records that delivery `auditId` was delivered (2xx `status`): delivered_through moves to it and the lease is
 * extended, in one statement. `continue` while the subscription is enabled and not dead-lettered; `stop` when it was
 * paused meanwhile (the lease is released: its other deliveries wait); `lost` when this worker no longer holds the
 * lease (another worker took the subscription over): it must stop.
 */
export const recordDelivered = async (
  db: CommonQueryMethods,
  input: { subscriptionId: string; auditId: number; status: number; workerId: string; leaseMs: number },
): Promise<'continue' | 'stop' | 'lost'> => {
  const row = await db.maybeOne(sql.type(z.object({ go_on: z.boolean() }))`
    WITH advanced AS (
      UPDATE public.notification_subscriptions s
      SET delivered_through = ${input.auditId}, consecutive_failures = 0, failing_since = NULL, last_success_at = now(),
          next_attempt_at = now(),
          lease_owner = CASE WHEN s.enabled AND s.dead_lettered_at IS NULL THEN s.lease_owner END,
          lease_until = CASE WHEN s.enabled AND s.dead_lettered_at IS NULL THEN ${leaseFor(input.leaseMs)} END
      WHERE s.id = ${input.subscriptionId}::uuid AND s.lease_owner = ${input.workerId} AND s.delivered_through < ${input.auditId}
      RETURNING s.id, s.lease_owner IS NOT NULL AS go_on
    ),
    marked AS (
      UPDATE public.notification_deliveries d
      SET attempts = d.attempts + 1, last_attempt_at = now(), last_status = ${input.status}, last_error_code = NULL,
          outcome = 'delivered', finished_at = now()
      FROM advanced
      WHERE d.subscription_id = advanced.id AND d.audit_id = ${input.auditId}
      RETURNING d.audit_id
    )
    SELECT go_on FROM advanced
  `);
  if (row === null) return 'lost';
  return row.go_on ? 'continue' : 'stop';
};

/**
 * The next `batch` pending deliveries after `after` of a subscription this worker leases (and the sealed target and
 * secret as they are now: a rotation applies from here). When none is pending, or the subscription was paused or
 * dead-lettered meanwhile, the lease is released in the same statement and null returned; `lost` when the lease is no
 * longer this worker's.
 */
export const nextPending = async (
  db: CommonQueryMethods,
  input: { subscriptionId: string; after: number; workerId: string; batch: number },
): Promise<LeasedSubscription | null | 'lost'> => {
  const row = await db.maybeOne(sql.type(leasedRow)`
    WITH held AS (
      SELECT s.* FROM public.notification_subscriptions s
      WHERE s.id = ${input.subscriptionId}::uuid AND s.lease_owner = ${input.workerId}
    ),
    -- Paused or dead-lettered meanwhile: nothing more is sent (the pending deliveries wait), the lease goes.
    next AS (
      SELECT s.id, CASE WHEN s.enabled AND s.dead_lettered_at IS NULL THEN p.entries END AS entries
      FROM held s CROSS JOIN LATERAL (${pendingOf(sql.fragment`${input.after}`, input.batch)}) p
    ),
    released AS (
      UPDATE public.notification_subscriptions s SET lease_owner = NULL, lease_until = NULL
      FROM next WHERE s.id = next.id AND next.entries IS NULL AND s.lease_owner = ${input.workerId}
      RETURNING s.id
    )
    SELECT s.id::text AS subscription_id, s.kind, s.target_ciphertext, s.secret_ciphertext, s.consecutive_failures, next.entries
    FROM held s JOIN next ON next.id = s.id
  `);
  if (row === null) return 'lost';
  if (row.entries === null) return null;
  return toLeased(row);
};

/** The actor of the events the delivery worker records (a dead letter). */
export const NOTIFICATION_SYSTEM_ACTOR = 'system:notifications';

/**
 * Records a failed attempt of the head `auditId` and releases the lease: the next attempt is due after `delayMs`.
 * The subscription is dead-lettered when it has been failing for `deadLetterAfterSeconds` or more, or at once when
 * `gone` (the receiver answered 410 Gone); that is recorded as a `notification.subscription_dead_lettered` audit event
 * in the same transaction. Nothing when this worker no longer holds the lease.
 * @returns whether the lease was still held, and whether this failure dead-lettered the subscription.
 */
export const recordDeliveryFailed = async (
  pool: DatabasePool,
  keyring: AuditKeyring,
  input: {
    subscriptionId: string;
    auditId: number;
    workerId: string;
    code: DeliveryFailureCode;
    message: string;
    status: number | null;
    delayMs: number;
    deadLetterAfterSeconds: number;
    gone: boolean;
  },
): Promise<{ held: boolean; deadLettered: boolean }> => {
  const update = sql.fragment`
    WITH failed AS (
      UPDATE public.notification_subscriptions s
      SET consecutive_failures = s.consecutive_failures + 1,
          failing_since = COALESCE(s.failing_since, now()),
          next_attempt_at = now() + make_interval(secs => ${input.delayMs / 1000}),
          last_error_code = ${input.code}, last_error_message = ${input.message}, last_error_status = ${input.status},
          last_error_at = now(), lease_owner = NULL, lease_until = NULL,
          dead_lettered_at = CASE WHEN ${input.gone} OR COALESCE(s.failing_since, now()) <= now() - make_interval(secs => ${input.deadLetterAfterSeconds})
                                  THEN now() END,
          dead_letter_reason = CASE WHEN ${input.gone} THEN 'the receiver answered 410 Gone'
                                    WHEN COALESCE(s.failing_since, now()) <= now() - make_interval(secs => ${input.deadLetterAfterSeconds})
                                    THEN 'failing since ' || to_char(COALESCE(s.failing_since, now()) AT TIME ZONE 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS"Z"')
                                         || ', the last error: ' || ${input.code} END
      WHERE s.id = ${input.subscriptionId}::uuid AND s.lease_owner = ${input.workerId}
      RETURNING s.id, s.dead_lettered_at IS NOT NULL AS dead, s.dead_letter_reason, s.target_display, s.kind
    ),
    attempt AS (
      UPDATE public.notification_deliveries d
      SET attempts = attempts + 1, last_attempt_at = now(), last_status = ${input.status}, last_error_code = ${input.code}
      FROM failed WHERE d.subscription_id = failed.id AND d.audit_id = ${input.auditId}
      RETURNING d.audit_id
    )
    SELECT failed.dead, failed.dead_letter_reason, failed.target_display, failed.kind FROM failed
  `;
  const outcome = z.object({ dead: z.boolean(), dead_letter_reason: z.string().nullable(), target_display: z.string(), kind: z.string() });
  // One transaction: the dead letter and its audit event commit together. Lock order is the subscription row, then
  // the audit chain lock (taken by the append); no writer holding the chain lock waits for a subscription row, so
  // this cannot deadlock with a governance change or a subscription write.
  return runInTransaction(pool, async (tx) => {
    const row = await tx.maybeOne(sql.type(outcome)`${update}`);
    if (row === null) return { held: false, deadLettered: false };
    if (!row.dead) return { held: true, deadLettered: false };
    await appendAuditEvent(tx, keyring, {
      key: `${NOTIFICATION_EVENTS.deadLettered}:${input.subscriptionId}:${randomUUID()}`,
      action: NOTIFICATION_EVENTS.deadLettered,
      actor: NOTIFICATION_SYSTEM_ACTOR,
      reason: (row.dead_letter_reason ?? 'dead-lettered').slice(0, 500),
      requestId: null,
      details: { subscription: input.subscriptionId, kind: row.kind, target: row.target_display, audit_id: input.auditId, code: input.code, http_status: input.status },
    });
    return { held: true, deadLettered: true };
  });
};

/** Releases this worker's lease without recording an attempt (it stops: shutdown, or a send it abandoned). */
export const releaseLease = async (db: CommonQueryMethods, subscriptionId: string, workerId: string): Promise<void> => {
  await db.query(sql.unsafe`
    UPDATE public.notification_subscriptions SET lease_owner = NULL, lease_until = NULL
    WHERE id = ${subscriptionId}::uuid AND lease_owner = ${workerId}
  `);
};

/**
 * For each enabled subscription with a backlog: milliseconds until it is next due by PostgreSQL's clock (its backoff,
 * or a lease held by another worker; negative when overdue), or null when it is dead-lettered (never, until resumed).
 * The worker sleeps until the soonest, and lets notifications about subscriptions that are not due pass.
 */
export const listDueTimes = async (db: CommonQueryMethods): Promise<{ id: string; due_in_ms: number | null }[]> => [
  ...(await db.any(sql.type(z.object({ id: z.string(), due_in_ms: z.number().nullable() }))`
    SELECT s.id::text AS id,
           CASE WHEN s.dead_lettered_at IS NULL
                THEN (extract(epoch FROM GREATEST(s.next_attempt_at, COALESCE(s.lease_until, s.next_attempt_at)) - now()) * 1000)::float8
           END AS due_in_ms
    FROM public.notification_subscriptions s
    WHERE s.enabled
      AND EXISTS (SELECT 1 FROM public.notification_deliveries d WHERE d.subscription_id = s.id AND d.audit_id > s.delivered_through)
  `)),
];

export const deliveryRow = z
  .object({
    audit_id: z.number(),
    action: z.string(),
    outcome: z.string().nullable().describe('The audit entry\'s outcome (change entries)'),
    created_at: z.string(),
    status: z.enum(['pending', 'delivered', 'skipped']),
    attempts: z.number(),
    last_attempt_at: z.string().nullable(),
    last_status: z.number().nullable(),
    last_error_code: z.string().nullable(),
    finished_at: z.string().nullable(),
  })
  .meta({ id: 'NotificationDelivery' });
export type DeliveryRow = z.infer<typeof deliveryRow>;

/** The newest deliveries of a subscription (pending ones included), newest first. */
export const listDeliveries = async (db: CommonQueryMethods, subscriptionId: string, limit: number): Promise<DeliveryRow[]> => [
  ...(await db.any(sql.type(deliveryRow)`
    SELECT d.audit_id, a.action, a.outcome, d.created_at,
           CASE WHEN d.outcome IS NOT NULL THEN d.outcome WHEN d.audit_id <= s.delivered_through THEN 'delivered' ELSE 'pending' END AS status,
           d.attempts, d.last_attempt_at, d.last_status, d.last_error_code, d.finished_at
    FROM public.notification_deliveries d
    JOIN public.notification_subscriptions s ON s.id = d.subscription_id
    JOIN public.governance_audit_log a ON a.id = d.audit_id
    WHERE d.subscription_id = ${subscriptionId}::uuid
    ORDER BY d.audit_id DESC
    LIMIT ${limit}
  `)),
];

/**
 * Deletes delivered and skipped deliveries finished more than `retentionDays` ago, and deliveries of subscriptions
 * that no longer exist, at most `batch` at a time (short transactions). Returns how many went.
 */
export const purgeDeliveries = async (db: CommonQueryMethods, input: { retentionDays: number; batch: number }): Promise<number> =>
  db.oneFirst(sql.type(z.object({ purged: z.number() }))`
    WITH doomed AS (
      SELECT d.subscription_id, d.audit_id FROM public.notification_deliveries d
      LEFT JOIN public.notification_subscriptions s ON s.id = d.subscription_id
      WHERE s.id IS NULL
         OR (d.audit_id <= s.delivered_through AND COALESCE(d.finished_at, d.created_at) < now() - make_interval(days => ${input.retentionDays}))
      LIMIT ${input.batch}
    ),
    gone AS (
      DELETE FROM public.notification_deliveries d USING doomed
      WHERE d.subscription_id = doomed.subscription_id AND d.audit_id = doomed.audit_id
      RETURNING 1
    )
    SELECT count(*)::int AS purged FROM gone
  `);

const sealedRow = z.object({ id: z.string(), target_ciphertext: z.string(), secret_ciphertext: z.string().nullable() });

/** Subscriptions whose target or secret is sealed with another key than `currentKeyId` (to be sealed again). */
export const listResealable = async (db: CommonQueryMethods, currentKeyId: string): Promise<z.infer<typeof sealedRow>[]> => [
  ...(await db.any(sql.type(sealedRow)`
    SELECT id::text AS id, target_ciphertext, secret_ciphertext FROM public.notification_subscriptions
    WHERE split_part(target_ciphertext, ':', 2) <> ${currentKeyId}
       OR (secret_ciphertext IS NOT NULL AND split_part(secret_ciphertext, ':', 2) <> ${currentKeyId})
  `)),
];

/** Replaces a subscription's sealed values, only if they are still the ones read (a concurrent write wins). */
export const replaceSealed = async (
  db: CommonQueryMethods,
  input: { id: string; from: { target: string; secret: string | null }; to: { target: string; secret: string | null } },
): Promise<boolean> =>
  (await db.maybeOne(sql.type(z.object({ id: z.string() }))`
    UPDATE public.notification_subscriptions SET target_ciphertext = ${input.to.target}, secret_ciphertext = ${input.to.secret}
    WHERE id = ${input.id}::uuid AND target_ciphertext = ${input.from.target} AND secret_ciphertext IS NOT DISTINCT FROM ${input.from.secret}
    RETURNING id::text AS id
  `)) !== null;
