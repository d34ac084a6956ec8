import { randomBytes, randomUUID } from 'node:crypto';
import { sql, type DatabasePool, type DatabaseTransactionConnection } from 'slonik';
import { z } from 'zod';
import { runInTransaction } from '../db/runInTransaction.js';
import { appendAuditEvent } from '../state/audit/appendAuditEvent.js';
import type { AuditKeyring } from '../state/audit/auditKeyring.js';
import { lockGovernanceRows } from '../state/queries/governanceState.js';
import type { SubscriptionKind } from '@valhalla/contract';
import { filterFromColumns, NOTIFICATION_EVENTS, type SubscriptionFilter } from './model.js';
import { sealSecret, type NotificationKeyring } from './secretKeyring.js';
import { findSubscriptionRow, targetDisplay, type SubscriptionRow } from './subscriptionRows.js';

/**
 * The keys a subscription write needs: the audit keyring signs its event, the notification keyring seals targets and
 * secrets (undefined when NOTIFICATION_SECRET_KEYS is not configured: writes that seal nothing still work).
 */
export type SubscriptionKeys = { audit: AuditKeyring; secrets: NotificationKeyring | undefined };

/** Who asks, and why: every subscription write is an audit event with the actor and the reason. */
export type SubscriptionActor = { actor: string; reason: string; requestId: string | null };

/** The channel the delivery workers LISTEN on (the outbox trigger notifies it too). */
export const NOTIFICATION_CHANNEL = 'valhalla_notifications';

/** A signing secret in the Standard Webhooks form: `whsec_` and the base64 of 32 random bytes. */
const newSigningSecret = (): string => `whsec_${randomBytes(32).toString('base64')}`;

const keyringOf = (keys: SubscriptionKeys): NotificationKeyring => {
  if (keys.secrets === undefined) throw new Error('sealing a notification secret needs NOTIFICATION_SECRET_KEYS (checked by the caller)');
  return keys.secrets;
};
const sealTarget = (keys: SubscriptionKeys, id: string, url: string) => sealSecret(keyringOf(keys), url, `${id}:target`);
const sealSigningSecret = (keys: SubscriptionKeys, id: string, secret: string) => sealSecret(keyringOf(keys), secret, `${id}:secret`);

const filterColumns = (filter: SubscriptionFilter) => ({
  kinds: filter.kinds === undefined ? null : sql.array(filter.kinds, 'text'),
  actions: filter.actions === undefined ? null : sql.array(filter.actions, 'text'),
  outcomes: filter.outcomes === undefined ? null : sql.array(filter.outcomes, 'text'),
});

/** What an audit event says about a subscription: never its secret or its full target. */
const describe = (row: Pick<SubscriptionRow, 'id' | 'kind' | 'target_display' | 'description' | 'enabled' | 'filter_kinds' | 'filter_actions' | 'filter_outcomes'>) => ({
  subscription: row.id,
  kind: row.kind,
  target: row.target_display,
  description: row.description,
  enabled: row.enabled,
  filter: filterFromColumns(row),
});

const wakeWorkers = async (tx: DatabaseTransactionConnection) => {
  await tx.query(sql.unsafe`SELECT pg_notify(${NOTIFICATION_CHANNEL}, '')`);
};

/** Locks row 1 of the governance tables first, as every audit writer does, so lock order is the same everywhere. */
const inAuditedTransaction = <T>(pool: DatabasePool, handler: (tx: DatabaseTransactionConnection) => Promise<T>): Promise<T> =>
  runInTransaction(pool, async (tx) => {
    await lockGovernanceRows(tx);
    return handler(tx);
  });

const mustFind = async (tx: DatabaseTransactionConnection, id: string): Promise<SubscriptionRow> => {
  const row = await findSubscriptionRow(tx, id);
  if (row === null) throw new Error(`subscription ${id} vanished inside its own transaction`);
  return row;
};

/**
 * Creates a subscription with its `notification.subscription_created` audit event, in one transaction. A webhook gets
 * a new signing secret (returned here, once; stored sealed); a Slack subscription's secret is its URL. The target must
 * already be validated and vetted by the caller.
 */
export const createSubscription = async (
  pool: DatabasePool,
  keys: SubscriptionKeys,
  input: { kind: SubscriptionKind; url: URL; description: string | null; filter: SubscriptionFilter; enabled: boolean } & SubscriptionActor,
): Promise<{ row: SubscriptionRow; secret: string | null }> => {
  const id = randomUUID();
  const secret = input.kind === 'webhook' ? newSigningSecret() : null;
  const sealedTarget = sealTarget(keys, id, input.url.href);
  const sealedSecret = secret === null ? null : sealSigningSecret(keys, id, secret);
  const filter = filterColumns(input.filter);
  const row = await inAuditedTransaction(pool, async (tx) => {
    await tx.query(sql.unsafe`
      INSERT INTO public.notification_subscriptions
        (id, kind, description, target_display, target_ciphertext, secret_ciphertext, filter_kinds, filter_actions,
         filter_outcomes, enabled, created_by, updated_by, delivered_through)
      VALUES (${id}::uuid, ${input.kind}, ${input.description}, ${targetDisplay(input.kind, input.url)}, ${sealedTarget},
              ${sealedSecret}, ${filter.kinds}, ${filter.actions}, ${filter.outcomes}, ${input.enabled}, ${input.actor},
              ${input.actor}, 0)
    `);
    const created = await mustFind(tx, id);
    // After the insert: the new subscription is told about its own creation when its filter matches it.
    await appendAuditEvent(tx, keys.audit, {
      key: `${NOTIFICATION_EVENTS.created}:${id}`,
      action: NOTIFICATION_EVENTS.created,
      actor: input.actor,
      reason: input.reason,
      requestId: input.requestId,
      details: describe(created),
    });
    return created;
  });
  return { row, secret };
};

/** The fields a PATCH may change. */
export type SubscriptionChanges = { url?: URL | undefined; description?: string | null | undefined; filter?: SubscriptionFilter | undefined; enabled?: boolean | undefined };

const lockSubscription = (tx: DatabaseTransactionConnection, id: string) =>
  tx.maybeOneFirst(sql.type(z.object({ id: z.string() }))`SELECT id::text AS id FROM public.notification_subscriptions WHERE id = ${id}::uuid FOR UPDATE`);

/**
 * Changes a subscription and records a `notification.subscription_updated` event naming each changed field with its
 * old and new value (a new target is recorded by its shown form only). Null when there is no such subscription.
 */
export const updateSubscription = async (
  pool: DatabasePool,
  keys: SubscriptionKeys,
  input: { id: string; changes: SubscriptionChanges } & SubscriptionActor,
): Promise<SubscriptionRow | null> =>
  inAuditedTransaction(pool, async (tx) => {
    if ((await lockSubscription(tx, input.id)) === null) return null;
    const before = await mustFind(tx, input.id);
    const { changes } = input;
    const sets = [sql.fragment`updated_by = ${input.actor}`, sql.fragment`updated_at = now()`];
    if (changes.url !== undefined) {
      sets.push(sql.fragment`target_ciphertext = ${sealTarget(keys, input.id, changes.url.href)}`);
      sets.push(sql.fragment`target_display = ${targetDisplay(before.kind, changes.url)}`);
    }
    if (changes.description !== undefined) sets.push(sql.fragment`description = ${changes.description}`);
    if (changes.enabled !== undefined) sets.push(sql.fragment`enabled = ${changes.enabled}`);
    if (changes.filter !== undefined) {
      const filter = filterColumns(changes.filter);
      sets.push(sql.fragment`filter_kinds = ${filter.kinds}`, sql.fragment`filter_actions = ${filter.actions}`, sql.fragment`filter_outcomes = ${filter.outcomes}`);
    }
    await tx.query(sql.unsafe`UPDATE public.notification_subscriptions SET ${sql.join(sets, sql.fragment`, `)} WHERE id = ${input.id}::uuid`);
    const after = await mustFind(tx, input.id);
    const was = describe(before);
    const now = describe(after);
    const changed = Object.fromEntries(
      (Object.keys(now) as (keyof typeof now)[])
        .filter((field) => JSON.stringify(was[field]) !== JSON.stringify(now[field]) || (field === 'target' && changes.url !== undefined))
        .map((field) => [field, { from: was[field], to: now[field] }]),
    );
    await appendAuditEvent(tx, keys.audit, {
      key: `${NOTIFICATION_EVENTS.updated}:${input.id}:${randomUUID()}`,
      action: NOTIFICATION_EVENTS.updated,
      actor: input.actor,
      reason: input.reason,
      requestId: input.requestId,
      details: { subscription: input.id, changes: changed },
    });
    if (changes.enabled === true) await wakeWorkers(tx);
    return after;
  });

/**
 * Deletes a subscription and its attempt records (its pending deliveries are dropped, and counted in the event: the
 * outbox rows naming it stop mattering, and are purged once no other subscription has them pending), with a
 * `notification.subscription_deleted` event. Null when there is no such subscription.
 */
export const deleteSubscription = async (pool: DatabasePool, keys: SubscriptionKeys, input: { id: string } & SubscriptionActor): Promise<SubscriptionRow | null> =>
  inAuditedTransaction(pool, async (tx) => {
    if ((await lockSubscription(tx, input.id)) === null) return null;
    const row = await mustFind(tx, input.id);
    await tx.query(sql.unsafe`DELETE FROM public.notification_subscriptions WHERE id = ${input.id}::uuid`);
    await tx.query(sql.unsafe`DELETE FROM public.notification_deliveries WHERE subscription_id = ${input.id}::uuid`);
    await appendAuditEvent(tx, keys.audit, {
      key: `${NOTIFICATION_EVENTS.deleted}:${input.id}`,
      action: NOTIFICATION_EVENTS.deleted,
      actor: input.actor,
      reason: input.reason,
      requestId: input.requestId,
      details: { ...describe(row), dropped_pending: row.backlog },
    });
    return row;
  });

/**
 * Resumes a subscription: clears a dead letter and the failure count, and makes the head due now. With
 * `skipBacklog`, every pending delivery is marked skipped first (delivery resumes with the next entry). Recorded as
 * `notification.subscription_resumed` (with whether it was dead-lettered and how many were skipped). Null when
 * there is no such subscription.
 */
export const resumeSubscription = async (
  pool: DatabasePool,
  keys: SubscriptionKeys,
  input: { id: string; skipBacklog: boolean } & SubscriptionActor,
): Promise<SubscriptionRow | null> =>
  inAuditedTransaction(pool, async (tx) => {
    if ((await lockSubscription(tx, input.id)) === null) return null;
    const before = await mustFind(tx, input.id);
    let skipped = 0;
    let through = before.delivered_through;
    if (input.skipBacklog) {
      const marked = await tx.any(sql.type(z.object({ audit_id: z.number() }))`
        INSERT INTO public.notification_deliveries AS d (subscription_id, audit_id, created_at, outcome, finished_at)
        SELECT ${input.id}::uuid, o.audit_id, o.created_at, 'skipped', now()
        FROM public.notification_outbox o
        WHERE o.audit_id > ${before.delivered_through} AND ${input.id}::uuid = ANY (o.subscription_ids)
        ON CONFLICT (subscription_id, audit_id) DO UPDATE SET outcome = 'skipped', finished_at = now()
        RETURNING d.audit_id
      `);
      skipped = marked.length;
      through = Math.max(through, ...marked.map((row) => row.audit_id));
    }
    await tx.query(sql.unsafe`
      UPDATE public.notification_subscriptions
      SET dead_lettered_at = NULL, dead_letter_reason = NULL, consecutive_failures = 0, failing_since = NULL,
          next_attempt_at = now(), delivered_through = ${through}, updated_by = ${input.actor}, updated_at = now()
      WHERE id = ${input.id}::uuid
    `);
    await appendAuditEvent(tx, keys.audit, {
      key: `${NOTIFICATION_EVENTS.resumed}:${input.id}:${randomUUID()}`,
      action: NOTIFICATION_EVENTS.resumed,
      actor: input.actor,
      reason: input.reason,
      requestId: input.requestId,
      details: { subscription: input.id, was_dead_lettered: before.dead_lettered_at !== null, dead_letter_reason: before.dead_letter_reason, skipped },
    });
    await wakeWorkers(tx);
    return mustFind(tx, input.id);
  });

/**
 * Gives a webhook subscription a new signing secret (returned once), recorded as `notification.secret_rotated`.
 * The old secret stops signing with the worker's next read of the subscription (deliveries are read in batches of up
 * to 32, so a few already read may still carry the old signature): receivers accept both for a moment. Null when there is no such
 * subscription; `not_webhook` for a Slack subscription, which has no signing secret.
 */
export const rotateSigningSecret = async (
  pool: DatabasePool,
  keys: SubscriptionKeys,
  input: { id: string } & SubscriptionActor,
): Promise<{ row: SubscriptionRow; secret: string } | null | 'not_webhook'> => {
  const secret = newSigningSecret();
  const sealed = sealSigningSecret(keys, input.id, secret);
  return inAuditedTransaction(pool, async (tx) => {
    if ((await lockSubscription(tx, input.id)) === null) return null;
    const before = await mustFind(tx, input.id);
    if (before.kind !== 'webhook') return 'not_webhook' as const;
    await tx.query(sql.unsafe`
      UPDATE public.notification_subscriptions SET secret_ciphertext = ${sealed}, updated_by = ${input.actor}, updated_at = now()
      WHERE id = ${input.id}::uuid
    `);
    await appendAuditEvent(tx, keys.audit, {
      key: `${NOTIFICATION_EVENTS.secretRotated}:${input.id}:${randomUUID()}`,
      action: NOTIFICATION_EVENTS.secretRotated,
      actor: input.actor,
      reason: input.reason,
      requestId: input.requestId,
      details: { subscription: input.id },
    });
    return { row: await mustFind(tx, input.id), secret };
  });
};
