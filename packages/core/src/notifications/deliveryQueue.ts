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
 * PostgreSQL is the queue. The audit trigger writes one outbox row per matching audit entry, naming the subscriptions
 * it matched; the pending deliveries of a subscription are the outbox rows above its delivered_through that name it.
 * notification_deliveries records the attempts (one row per subscription and entry once one was attempted, delivered
 * or skipped). A worker claims subscriptions that have a due head delivery with FOR UPDATE SKIP LOCKED
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

/**
 * Whether subscription `s` has a pending delivery: an outbox row above its delivered_through that names it (a range
 * of the outbox's primary key, from the subscription's position on).
 */
const HAS_PENDING = sql.fragment`EXISTS (
  SELECT 1 FROM public.notification_outbox o WHERE o.audit_id > s.delivered_through AND s.id = ANY (o.subscription_ids)
)`;

/** The next `limit` pending deliveries of subscription `s` after audit id `after`, as a JSON array in audit order. */
const pendingOf = (after: ReturnType<typeof sql.fragment>, limit: number) => sql.fragment`
  SELECT jsonb_agg(p.entry ORDER BY p.audit_id) AS entries FROM (
    SELECT o.audit_id, ${ENTRY_JSON} AS entry
    FROM public.notification_outbox o
    JOIN public.governance_audit_log a ON a.id = o.audit_id
    WHERE o.audit_id > ${after} AND s.id = ANY (o.subscription_ids)
    ORDER BY o.audit_id
    LIMIT ${limit}
  ) p
`;

/**
 * Records an attempt of subscription `subscriptionId` at entry `auditId` (upsert of its attempt row; the first one
 * takes the outbox row's time of writing as its created_at). `FROM` names the CTE whose rows allow the write (the
 * subscription updated under this worker's lease): nothing is recorded without it.
 */
const recordAttempt = (
  from: ReturnType<typeof sql.identifier>,
  auditId: number,
  attempt: { status: number | null; errorCode: string | null; delivered: boolean },
) => sql.fragment`
  INSERT INTO public.notification_deliveries AS d
    (subscription_id, audit_id, created_at, attempts, last_attempt_at, last_status, last_error_code, outcome, finished_at)
  SELECT ${from}.id, ${auditId}::bigint, COALESCE((SELECT o.created_at FROM public.notification_outbox o WHERE o.audit_id = ${auditId}), now()),
         1, now(), ${attempt.status}::int, ${attempt.errorCode}::text,
         ${attempt.delivered ? sql.fragment`'delivered'` : sql.fragment`NULL`}, ${attempt.delivered ? sql.fragment`now()` : sql.fragment`NULL`}
  FROM ${from}
  ON CONFLICT (subscription_id, audit_id) DO UPDATE
  SET attempts = d.attempts + 1, last_attempt_at = now(), last_status = excluded.last_status,
      last_error_code = excluded.last_error_code, outcome = COALESCE(excluded.outcome, d.outcome),
      finished_at = COALESCE(excluded.finished_at, d.finished_at)
  RETURNING d.audit_id
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
        AND ${HAS_PENDING}
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
    marked AS (${recordAttempt(sql.identifier(['advanced']), input.auditId, { status: input.status, errorCode: null, delivered: true })})
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
    attempt AS (${recordAttempt(sql.identifier(['failed']), input.auditId, { status: input.status, errorCode: input.code, delivered: false })})
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
    WHERE s.enabled AND ${HAS_PENDING}
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

/**
 * The newest deliveries of a subscription (pending ones included), newest first: the outbox rows that name it and its
 * attempt rows (an attempt row outlives a purged outbox row, and the other way round), the newest `limit` of each.
 */
export const listDeliveries = async (db: CommonQueryMethods, subscriptionId: string, limit: number): Promise<DeliveryRow[]> => [
  ...(await db.any(sql.type(deliveryRow)`
    WITH queued AS (
      SELECT o.audit_id, o.created_at FROM public.notification_outbox o
      WHERE ${subscriptionId}::uuid = ANY (o.subscription_ids)
      ORDER BY o.audit_id DESC LIMIT ${limit}
    ),
    attempted AS (
      SELECT d.* FROM public.notification_deliveries d
      WHERE d.subscription_id = ${subscriptionId}::uuid
      ORDER BY d.audit_id DESC LIMIT ${limit}
    ),
    newest AS (
      SELECT audit_id FROM queued UNION SELECT audit_id FROM attempted
      ORDER BY audit_id DESC LIMIT ${limit}
    )
    SELECT n.audit_id, a.action, a.outcome, COALESCE(q.created_at, d.created_at) AS created_at,
           CASE WHEN d.outcome IS NOT NULL THEN d.outcome WHEN n.audit_id <= s.delivered_through THEN 'delivered' ELSE 'pending' END AS status,
           COALESCE(d.attempts, 0) AS attempts, d.last_attempt_at, d.last_status, d.last_error_code, d.finished_at
    FROM newest n
    JOIN public.notification_subscriptions s ON s.id = ${subscriptionId}::uuid
    JOIN public.governance_audit_log a ON a.id = n.audit_id
    LEFT JOIN queued q ON q.audit_id = n.audit_id
    LEFT JOIN attempted d ON d.audit_id = n.audit_id
    ORDER BY n.audit_id DESC
  `)),
];

/**
 * Deletes, at most `batch` of each at a time (short transactions): attempt rows of delivered and skipped deliveries
 * finished more than `retentionDays` ago and those of subscriptions that no longer exist; outbox rows written more
 * than `retentionDays` ago that no existing subscription still has pending (each named one has passed it or is gone).
 * A pending delivery is never purged. Returns how many rows went.
 */
export const purgeDeliveries = async (db: CommonQueryMethods, input: { retentionDays: number; batch: number }): Promise<number> =>
  db.oneFirst(sql.type(z.object({ purged: z.number() }))`
    WITH doomed_attempts AS (
      SELECT d.subscription_id, d.audit_id FROM public.notification_deliveries d
      LEFT JOIN public.notification_subscriptions s ON s.id = d.subscription_id
      WHERE s.id IS NULL
         OR (d.audit_id <= s.delivered_through AND COALESCE(d.finished_at, d.created_at) < now() - make_interval(days => ${input.retentionDays}))
      LIMIT ${input.batch}
    ),
    attempts_gone AS (
      DELETE FROM public.notification_deliveries d USING doomed_attempts
      WHERE d.subscription_id = doomed_attempts.subscription_id AND d.audit_id = doomed_attempts.audit_id
      RETURNING 1
    ),
    doomed_outbox AS (
      SELECT o.audit_id FROM public.notification_outbox o
      WHERE o.created_at < now() - make_interval(days => ${input.retentionDays})
        AND NOT EXISTS (
          SELECT 1 FROM public.notification_subscriptions s WHERE s.id = ANY (o.subscription_ids) AND o.audit_id > s.delivered_through
        )
      ORDER BY o.audit_id
      LIMIT ${input.batch}
    ),
    outbox_gone AS (
      DELETE FROM public.notification_outbox o USING doomed_outbox WHERE o.audit_id = doomed_outbox.audit_id
      RETURNING 1
    )
    SELECT (SELECT count(*) FROM attempts_gone)::int + (SELECT count(*) FROM outbox_gone)::int AS purged
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
