import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it, onTestFinished } from 'vitest';
import { sql, type CommonQueryMethods } from '../../packages/core/src/index.js';
import { runMigrateCommand } from '../../apps/cli/src/runMigrateCommand.js';
import { bearer, startApi, type ApiHarness } from '../api/support.js';
import { adminQuery, type TestDatabase } from '../helpers/database.js';
import { MIGRATIONS_DIR } from '../migrations/fixtures.js';
import { burstPayload, startInProcessWorker, useWorkerFixture, waitForGovernanceJobs } from '../worker/support/workerHarness.js';
import { NOTIFY_ENV, SAFETY_ACTIONS, auditIdsOf, expectExactlyInAuditOrder, statusOf, subscribe, waitForDelivered } from './support/harness.js';
import { startWebhookReceiver, type WebhookReceiver } from './support/receiver.js';

const fixture = useWorkerFixture('notify-outbox');

/** The outbox rows of these audit ids: each with the subscriptions it names, sorted. */
const outboxRows = async (pool: CommonQueryMethods, auditIds?: readonly number[]) =>
  (await pool.any(sql.unsafe`
    SELECT audit_id, ARRAY(SELECT unnest(subscription_ids)::text ORDER BY 1) AS ids, created_at
    FROM public.notification_outbox
    WHERE ${auditIds === undefined ? sql.fragment`TRUE` : sql.fragment`audit_id = ANY (${sql.array([...auditIds], 'int8')})`}
    ORDER BY audit_id
  `)) as { audit_id: number; ids: string[]; created_at: string }[];

const patch = async (api: ApiHarness, id: string, body: object) => {
  const response = await api.app.inject({ method: 'PATCH', url: `/api/notifications/subscriptions/${id}`, headers: bearer(), payload: { reason: 'outbox test', ...body } });
  expect(response.statusCode, response.body).toBe(200);
};

const deliveriesOf = async (api: ApiHarness, id: string) => {
  const response = await api.app.inject({ method: 'GET', url: `/api/notifications/subscriptions/${id}/deliveries?limit=200`, headers: bearer() });
  expect(response.statusCode).toBe(200);
  return response.json<{ items: { audit_id: number; status: string; created_at: string; attempts: number; last_error_code: string | null }[] }>().items;
};

const sorted = (ids: string[]) => [...ids].sort();

/** What a test started, closed in its `finally` (before the leak check after each test), last started first. */
const openedByTest = () => {
  const closers: (() => Promise<unknown>)[] = [];
  return {
    receivers: async (count: number): Promise<WebhookReceiver[]> => {
      const receivers = await Promise.all(Array.from({ length: count }, () => startWebhookReceiver()));
      closers.push(() => Promise.all(receivers.map((receiver) => receiver.close())));
      return receivers;
    },
    api: async (database: TestDatabase) => {
      const api = await startApi(database, { env: NOTIFY_ENV });
      closers.push(() => api.close());
      return api;
    },
    worker: async (database: TestDatabase, prefix: string) => {
      const worker = await startInProcessWorker(database, prefix, { env: NOTIFY_ENV });
      closers.push(() => worker.close());
      return worker;
    },
    closeAll: async () => {
      for (const close of closers.reverse()) await close();
    },
  };
};

describe('the notification outbox', () => {
  it('one row per matching audit entry, naming the subscriptions it matched when written (not a paused or filtered-out one), in the audit transaction; a subscription paused then resumed never receives what was written while it was paused', async () => {
    const { database, prefix, producer } = fixture.current;
    const opened = openedByTest();
    try {
      const api = await opened.api(database);
      const [toA, toB, toC, toD] = (await opened.receivers(4)) as [WebhookReceiver, WebhookReceiver, WebhookReceiver, WebhookReceiver];
      const a = await subscribe(api, { url: toA.url, filter: { actions: [...SAFETY_ACTIONS] } });
      const b = await subscribe(api, { url: toB.url, filter: { actions: [...SAFETY_ACTIONS] }, enabled: false });
      const c = await subscribe(api, { url: toC.url, filter: { actions: ['go_live.enable'] } });
      const d = await subscribe(api, { url: toD.url, filter: { kinds: ['event'] } });
      for (const [receiver, subscription] of [[toA, a], [toB, b], [toC, c], [toD, d]] as const) receiver.setSecret(subscription.secret as string);

      // The same transaction: the row is there inside it, invisible outside until it commits, gone with a rollback.
      const rolledBack = new Error('roll back');
      let uncommitted: number | undefined;
      await expect(
        database.pool.transaction(async (tx) => {
          uncommitted = (await tx.oneFirst(sql.unsafe`
            INSERT INTO public.governance_audit_log (kind, action, actor, reason, before, after, details)
            VALUES ('event', 'kill_switch.engage', 'test', 'outbox in the audit transaction', '{}', '{}', '{}') RETURNING id
          `)) as number;
          expect(await outboxRows(tx, [uncommitted])).toMatchObject([{ audit_id: uncommitted, ids: sorted([a.id, d.id]) }]);
          // Another session (not the pool: slonik keeps this transaction's context for it).
          expect((await adminQuery(`SELECT audit_id FROM public.notification_outbox WHERE audit_id = ${uncommitted}`, database.name)).rows).toEqual([]);
          throw rolledBack;
        }),
      ).rejects.toBe(rolledBack);
      expect(await outboxRows(database.pool, [uncommitted as number])).toEqual([]);

      // Entries while b is paused: their rows name a only (c's and d's filters leave change entries out).
      await opened.worker(database, prefix);
      for (const i of [3, 0, 3]) await producer.change(burstPayload(i, 'while b is paused'));
      await waitForGovernanceJobs(producer, 3);
      const whilePaused = await auditIdsOf(database.pool, SAFETY_ACTIONS);
      expect(whilePaused).toHaveLength(3);
      expect(await outboxRows(database.pool, whilePaused)).toEqual(whilePaused.map((id) => ({ audit_id: id, ids: [a.id], created_at: expect.any(String) })));

      // b resumed (enabled again): only what is written from now on is b's.
      await patch(api, b.id, { enabled: true });
      expect((await statusOf(api, b.id)).backlog).toBe(0);
      for (const i of [0, 3]) await producer.change(burstPayload(i, 'after b resumed'));
      await waitForGovernanceJobs(producer, 5);
      const all = await auditIdsOf(database.pool, SAFETY_ACTIONS);
      const afterResume = all.slice(whilePaused.length);
      expect(afterResume).toHaveLength(2);
      expect(await outboxRows(database.pool, afterResume)).toEqual(afterResume.map((id) => ({ audit_id: id, ids: sorted([a.id, b.id]), created_at: expect.any(String) })));

      // One row per entry: every change entry has at most one row, and no row names c; d's rows are event entries only.
      const rows = await outboxRows(database.pool);
      expect(new Set(rows.map((row) => row.audit_id)).size).toBe(rows.length);
      expect(rows.filter((row) => row.ids.includes(c.id))).toEqual([]);
      const eventIds = (await database.pool.anyFirst(sql.unsafe`SELECT id FROM public.governance_audit_log WHERE kind = 'event' ORDER BY id`)) as number[];
      const dRows = rows.filter((row) => row.ids.includes(d.id)).map((row) => row.audit_id);
      expect(dRows.length).toBeGreaterThan(0);
      expect(dRows.every((id) => eventIds.includes(id))).toBe(true);

      // What the receivers get: a all five, b only the two written after it resumed, c nothing.
      await waitForDelivered(api, toA, a.id, all.length);
      await waitForDelivered(api, toB, b.id, afterResume.length);
      await waitForDelivered(api, toD, d.id, dRows.length);
      expectExactlyInAuditOrder(toA.receipts, a.id, all);
      expectExactlyInAuditOrder(toB.receipts, b.id, afterResume);
      expect(toC.receipts).toEqual([]);
      expect((await deliveriesOf(api, b.id)).map((row) => [row.audit_id, row.status])).toEqual(
        [...afterResume].reverse().map((id) => [id, 'delivered']),
      );
    } finally {
      await opened.closeAll();
    }
  });

  it('matches against notification_routes, which follows every operator write to a subscription and none of the delivery worker\'s', async () => {
    const { database } = fixture.current;
    const opened = openedByTest();
    try {
      const api = await opened.api(database);
      const routes = async () =>
        (await database.pool.any(sql.unsafe`
          SELECT subscription_id::text AS id, filter_kinds, filter_actions, filter_outcomes, xmin::text AS version FROM public.notification_routes ORDER BY 1
        `)) as { id: string; filter_kinds: string[] | null; filter_actions: string[] | null; filter_outcomes: string[] | null; version: string }[];
      const [receiver] = (await opened.receivers(1)) as [WebhookReceiver];
      const one = await subscribe(api, { url: receiver.url, filter: { actions: ['kill_switch.engage'] } });
      const paused = await subscribe(api, { url: receiver.url, filter: { kinds: ['event'] }, enabled: false });
      expect(await routes()).toEqual([{ id: one.id, filter_kinds: null, filter_actions: ['kill_switch.engage'], filter_outcomes: null, version: expect.any(String) }]);

      await patch(api, one.id, { filter: { kinds: ['change'], outcomes: ['applied'] } });
      await patch(api, paused.id, { enabled: true });
      const both = await routes();
      expect(both.map((route) => route.id)).toEqual(sorted([one.id, paused.id]));
      expect(both.find((route) => route.id === one.id)).toMatchObject({ filter_kinds: ['change'], filter_actions: null, filter_outcomes: ['applied'] });

      // The delivery worker's writes (cursor, lease, backoff, errors) leave the routes as they were: same row versions.
      const before = await routes();
      for (let i = 0; i < 50; i += 1) {
        await database.pool.query(sql.unsafe`
          UPDATE public.notification_subscriptions
          SET delivered_through = delivered_through + 1, lease_owner = 'w', lease_until = now(), next_attempt_at = now(),
              consecutive_failures = 0, last_success_at = now(), last_error_code = NULL
        `);
      }
      expect(await routes()).toEqual(before);

      await patch(api, one.id, { enabled: false });
      expect((await routes()).map((route) => route.id)).toEqual([paused.id]);
      const deleted = await api.app.inject({ method: 'DELETE', url: `/api/notifications/subscriptions/${paused.id}`, headers: bearer(), payload: { reason: 'outbox test' } });
      expect(deleted.statusCode, deleted.body).toBe(200);
      expect(await routes()).toEqual([]);
    } finally {
      await opened.closeAll();
    }
  });

  it('migrate down to 20260303_notifications and up again keeps every pending delivery (outbox rows, backlogs, listings)', async () => {
    const { database } = fixture.current;
    const opened = openedByTest();
    try {
      let api = await opened.api(database);
      const [toA, toB] = (await opened.receivers(2)) as [WebhookReceiver, WebhookReceiver];
      // No worker runs: whatever matches stays pending.
      const a = await subscribe(api, { url: toA.url, filter: { actions: ['notification.subscription_updated'] } });
      const b = await subscribe(api, { url: toB.url, filter: { kinds: ['event'] } });
      for (let i = 0; i < 3; i += 1) await patch(api, a.id, { description: `named by both ${i}` });
      await patch(api, b.id, { enabled: false });
      await patch(api, a.id, { description: 'named by a only' });
      await patch(api, b.id, { enabled: true });

      const outboxBefore = await outboxRows(database.pool);
      expect(outboxBefore.filter((row) => row.ids.length === 2).length).toBeGreaterThanOrEqual(3);
      expect(outboxBefore.filter((row) => row.ids.length === 1 && row.ids[0] === a.id).length).toBeGreaterThanOrEqual(2);
      // A pending delivery with failed attempts: its attempt row keeps them through down and up.
      const head = outboxBefore.find((row) => row.ids.includes(a.id))?.audit_id as number;
      await database.pool.query(sql.unsafe`
        INSERT INTO public.notification_deliveries (subscription_id, audit_id, attempts, last_attempt_at, last_status, last_error_code)
        VALUES (${a.id}::uuid, ${head}, 2, now(), 503, 'HTTP_STATUS')
      `);
      const seen = async () => ({
        a: { backlog: (await statusOf(api, a.id)).backlog, deliveries: await deliveriesOf(api, a.id) },
        b: { backlog: (await statusOf(api, b.id)).backlog, deliveries: await deliveriesOf(api, b.id) },
      });
      const before = await seen();
      expect(before.a.backlog).toBe(outboxBefore.filter((row) => row.ids.includes(a.id)).length);
      expect(before.b.backlog).toBe(outboxBefore.filter((row) => row.ids.includes(b.id)).length);
      expect(before.a.deliveries.every((row) => row.status === 'pending')).toBe(true);
      expect(before.a.deliveries.find((row) => row.audit_id === head)).toMatchObject({ attempts: 2, last_error_code: 'HTTP_STATUS' });
      await api.close();

      const exportDir = await mkdtemp(join(tmpdir(), 'valhalla-outbox-export-'));
      onTestFinished(() => rm(exportDir, { recursive: true, force: true }));
      const migrate = async (args: string[]) => {
        const err: string[] = [];
        const code = await runMigrateCommand(args, { databaseUrl: database.url, migrationsDir: MIGRATIONS_DIR, exportDir }, { out: () => {}, err: (line) => err.push(line) });
        expect(code, err.join('\n')).toBe(0);
      };
      // The outbox holds rows, so down asks for --export-and-drop; its rows go back into notification_deliveries first.
      await migrate(['down', '--to', '20260303_notifications', '--export-and-drop']);
      const pendingPairs = (await database.pool.any(sql.unsafe`
        SELECT d.subscription_id::text AS subscription, d.audit_id FROM public.notification_deliveries d
        JOIN public.notification_subscriptions s ON s.id = d.subscription_id WHERE d.audit_id > s.delivered_through
        ORDER BY 1, 2
      `)) as { subscription: string; audit_id: number }[];
      const expectedPairs = outboxBefore
        .flatMap((row) => row.ids.map((subscription) => ({ subscription, audit_id: row.audit_id })))
        .sort((x, y) => x.subscription.localeCompare(y.subscription) || x.audit_id - y.audit_id);
      expect(pendingPairs).toEqual(expectedPairs);

      await migrate(['up']);
      expect(await outboxRows(database.pool)).toEqual(outboxBefore);
      expect(await database.pool.any(sql.unsafe`SELECT subscription_id::text AS id, audit_id, attempts FROM public.notification_deliveries`)).toEqual([
        { id: a.id, audit_id: head, attempts: 2 },
      ]);
      api = await opened.api(database);
      expect(await seen()).toEqual(before);
    } finally {
      await opened.closeAll();
    }
  });
});
