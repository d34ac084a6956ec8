import { randomBytes } from 'node:crypto';
import { describe, expect, it } from 'vitest';
import { sql } from '../../packages/core/src/index.js';
import { bearer, startApi } from '../api/support.js';
import { waitFor } from '../helpers/waitFor.js';
import { burstPayload, startInProcessWorker, useWorkerFixture, waitForGovernanceJobs } from '../worker/support/workerHarness.js';
import { NOTIFY_ENV, SAFETY_ACTIONS, auditIdsOf, expectExactlyInAuditOrder, statusOf, subscribe, waitForDelivered } from './support/harness.js';
import { startWebhookReceiver } from './support/receiver.js';

const fixture = useWorkerFixture('notify-keys');
const key = (id: string) => `${id}:${randomBytes(32).toString('base64')}`;

describe('NOTIFICATION_SECRET_KEYS rotation and the delivery history', () => {
  it('a new first key: workers seal every target and secret again with it, deliveries still verify, the old key can go; a missing key is SECRET_UNAVAILABLE', async () => {
    const { database, prefix, producer } = fixture.current;
    const [oldKey, newKey, strangerKey] = [key('k2025'), key('k2026'), key('stranger')];
    const api = await startApi(database, { env: { ...NOTIFY_ENV, NOTIFICATION_SECRET_KEYS: oldKey } });
    const receiver = await startWebhookReceiver();
    try {
      const subscription = await subscribe(api, { url: receiver.url, filter: { actions: [...SAFETY_ACTIONS] } });
      receiver.setSecret(subscription.secret as string);
      expect(subscription.secret_key_id).toBe('k2025');

      // Rotation: the new key first, the old one still listed.
      const rotating = await startInProcessWorker(database, prefix, { env: { ...NOTIFY_ENV, NOTIFICATION_SECRET_KEYS: `${newKey},${oldKey}` } });
      await waitFor(async () => (await api.app.inject({ method: 'GET', url: `/api/notifications/subscriptions/${subscription.id}`, headers: bearer() })).json<{ secret_key_id: string }>().secret_key_id === 'k2026', {
        description: 'the subscription sealed again with the new key',
      });
      await rotating.close();

      // The old key removed: the same signing secret, opened with the new key, still signs.
      const rotated = await startInProcessWorker(database, prefix, { env: { ...NOTIFY_ENV, NOTIFICATION_SECRET_KEYS: newKey } });
      await producer.change(burstPayload(3, 'after rotation'));
      await waitForGovernanceJobs(producer, 1);
      const expected = await auditIdsOf(database.pool, SAFETY_ACTIONS);
      await waitForDelivered(api, receiver, subscription.id, expected.length);
      expectExactlyInAuditOrder(receiver.receipts, subscription.id, expected);
      await rotated.close();

      // A worker without the key cannot open the target: visible as SECRET_UNAVAILABLE, nothing sent.
      const stranger = await startInProcessWorker(database, prefix, { env: { ...NOTIFY_ENV, NOTIFICATION_SECRET_KEYS: strangerKey } });
      await producer.change(burstPayload(0, 'stranger'));
      await waitForGovernanceJobs(producer, 2);
      const status = await waitFor(async () => {
        const current = await statusOf(api, subscription.id);
        return current.last_error?.code === 'SECRET_UNAVAILABLE' ? current : false;
      }, { description: 'a SECRET_UNAVAILABLE failure' });
      expect(status.last_error.message).toContain('k2026');
      expect(status.backlog).toBe(1);
      expect(receiver.receipts).toHaveLength(expected.length);
      await stranger.close();
    } finally {
      await receiver.close();
      await api.close();
    }
  });

  it('purges delivered deliveries past NOTIFICATION_RETENTION_DAYS and those of deleted subscriptions, never pending ones', async () => {
    const { database, prefix, producer } = fixture.current;
    const api = await startApi(database, { env: NOTIFY_ENV });
    const receiver = await startWebhookReceiver();
    try {
      const kept = await subscribe(api, { url: receiver.url, filter: { actions: [...SAFETY_ACTIONS] } });
      receiver.setSecret(kept.secret as string);
      const paused = await subscribe(api, { url: receiver.url, filter: { actions: [...SAFETY_ACTIONS] } });
      const worker = await startInProcessWorker(database, prefix, { env: NOTIFY_ENV });
      // Paused after the changes: its deliveries exist and stay pending.
      for (let i = 0; i < 4; i += 1) await producer.change(burstPayload(i * 3, 'history'));
      await waitForGovernanceJobs(producer, 4);
      await api.app.inject({ method: 'PATCH', url: `/api/notifications/subscriptions/${paused.id}`, headers: bearer(), payload: { enabled: false, reason: 'hold' } });
      await waitForDelivered(api, receiver, kept.id, 4);
      await worker.close();
      // The attempt record and an outbox row of a subscription that no longer exists (as a delete racing a change can
      // leave), and everything written more than the retention ago.
      const gone = '00000000-0000-4000-8000-000000000001';
      await database.pool.query(sql.unsafe`INSERT INTO public.notification_deliveries (subscription_id, audit_id) VALUES (${gone}::uuid, 1)`);
      await database.pool.query(sql.unsafe`INSERT INTO public.notification_outbox (audit_id, subscription_ids) VALUES (1, ARRAY[${gone}::uuid])`);
      await database.pool.query(sql.unsafe`UPDATE public.notification_deliveries SET finished_at = now() - interval '8 days' WHERE outcome = 'delivered'`);
      await database.pool.query(sql.unsafe`UPDATE public.notification_outbox SET created_at = now() - interval '8 days'`);
      const attempts = async (id: string) => database.pool.oneFirst(sql.unsafe`SELECT count(*)::int FROM public.notification_deliveries WHERE subscription_id = ${id}::uuid`);
      const queued = async (id: string) => database.pool.oneFirst(sql.unsafe`SELECT count(*)::int FROM public.notification_outbox WHERE ${id}::uuid = ANY (subscription_ids)`);
      expect(await attempts(kept.id)).toBe(4);
      expect(await queued(kept.id)).toBe(4);
      expect(await queued(paused.id)).toBe(4);

      const again = await startInProcessWorker(database, prefix, { env: NOTIFY_ENV });
      await waitFor(async () => (await attempts(kept.id)) === 0, { description: 'the delivered history purged' });
      expect(await attempts(gone)).toBe(0);
      expect(await queued(gone)).toBe(0);
      // The outbox rows kept has passed are still pending for paused: they stay, and so does its backlog.
      expect(await queued(paused.id)).toBe(4);
      expect((await statusOf(api, paused.id)).backlog).toBe(4);
      await again.close();
      // Once paused has passed them too (its backlog skipped), they go with the next purge (each worker start runs one).
      const resumed = await api.app.inject({ method: 'POST', url: `/api/notifications/subscriptions/${paused.id}/resume`, headers: bearer(), payload: { reason: 'start afresh', skip_backlog: true } });
      expect(resumed.statusCode, resumed.body).toBe(200);
      expect((await statusOf(api, paused.id)).backlog).toBe(0);
      const last = await startInProcessWorker(database, prefix, { env: NOTIFY_ENV });
      await waitFor(async () => (await queued(paused.id)) === 0, { description: 'the outbox rows every subscription has passed purged' });
      expect(await attempts(paused.id)).toBe(4);
      await last.close();
    } finally {
      await receiver.close();
      await api.close();
    }
  });
});
