import { describe, expect, it } from 'vitest';
import { startApi } from '../api/support.js';
import { startTcpProxy, type TcpProxy } from '../api/tcpProxy.js';
import { waitFor } from '../helpers/waitFor.js';
import { burstPayload, startInProcessWorker, startWorkerProcess, useWorkerFixture, waitForGovernanceJobs, workerEnv } from '../worker/support/workerHarness.js';
import { NOTIFY_ENV, auditIdsOf, expectExactlyInAuditOrder, statusOf, subscribe, waitForDelivered } from './support/harness.js';
import { startWebhookReceiver } from './support/receiver.js';

const fixture = useWorkerFixture('notify-faults');
const CHANGE_ACTIONS = ['go_live.enable', 'go_live.disable', 'kill_switch.engage', 'kill_switch.release', 'metadata.update'] as const;

describe('notification delivery through faults', () => {
  it(
    'a worker process killed (SIGKILL) mid-delivery: two new workers take over, nothing lost, first receipts in audit order, the interrupted one resent under its id',
    async () => {
      const { database, prefix, producer } = fixture.current;
      const api = await startApi(database, { env: NOTIFY_ENV });
      const receiver = await startWebhookReceiver();
      try {
        const subscription = await subscribe(api, { url: receiver.url, filter: { kinds: ['change'] } });
        receiver.setSecret(subscription.secret as string);
        // Each answer takes a while, so the kill lands while a request is delivered but not yet answered.
        receiver.setAnswerDelay(40);
        const env = workerEnv(database, prefix, NOTIFY_ENV);
        const doomed = await startWorkerProcess(env, 'doomed worker');
        const total = 150;
        await Promise.all(Array.from({ length: total }, (_, i) => producer.change(burstPayload(i, 'kill'))));
        await waitFor(() => receiver.processed().length >= 20 && receiver.unanswered() > 0, { timeoutMs: 30_000, intervalMs: 5, description: 'a delivery in flight' });
        await doomed.stop('SIGKILL');
        const receivedAtKill = receiver.receipts.length;
        expect(receivedAtKill).toBeLessThan(total);

        const survivors = await Promise.all([startWorkerProcess(env, 'survivor 1'), startWorkerProcess(env, 'survivor 2')]);
        await waitForGovernanceJobs(producer, total, 60_000);
        const expected = await auditIdsOf(database.pool, CHANGE_ACTIONS);
        expect(expected).toHaveLength(total);
        await waitForDelivered(api, receiver, subscription.id, expected.length, 60_000);
        expectExactlyInAuditOrder(receiver.receipts, subscription.id, expected);
        // The message in flight at the kill was delivered but never recorded: it went out again, with the same id.
        const duplicates = receiver.receipts.length - new Set(receiver.receipts.map((receipt) => receipt.id)).size;
        expect(duplicates).toBeGreaterThanOrEqual(1);
        for (const survivor of survivors) expect((await survivor.stop('SIGTERM')).code).toBe(0);
      } finally {
        await receiver.close();
        await api.close();
      }
    },
    150_000,
  );

  it(
    'PostgreSQL cut mid-batch (TCP proxy) and back: the worker resumes, nothing lost, order kept',
    async () => {
      const { database, prefix, producer } = fixture.current;
      const api = await startApi(database, { env: NOTIFY_ENV });
      const receiver = await startWebhookReceiver();
      const target = new URL(database.url);
      const upstream = { host: target.hostname, port: Number(target.port || 5432) };
      let proxy: TcpProxy = await startTcpProxy(upstream);
      try {
        const subscription = await subscribe(api, { url: receiver.url, filter: { kinds: ['change'] } });
        receiver.setSecret(subscription.secret as string);
        receiver.setAnswerDelay(15);
        const viaProxy = new URL(database.url);
        viaProxy.port = String(proxy.port);
        const worker = await startInProcessWorker(database, prefix, {
          env: { ...NOTIFY_ENV, DATABASE_URL: viaProxy.toString(), DATABASE_POOL_SIZE: '4', TRANSIENT_RETRY_BASE_MS: '50', TRANSIENT_RETRY_MAX_MS: '500' },
        });
        const total = 120;
        await Promise.all(Array.from({ length: total }, (_, i) => producer.change(burstPayload(i, 'cut'))));
        await waitFor(() => receiver.processed().length >= 15 && receiver.unanswered() > 0, { timeoutMs: 30_000, intervalMs: 5, description: 'deliveries under way' });
        await proxy.cut();
        const atCut = receiver.receipts.length;
        // The outage is the fault being made: it lasts while the worker keeps trying (its attempts fail on the pool).
        await new Promise((resolve) => setTimeout(resolve, 1_500));
        expect(receiver.receipts.length - atCut).toBeLessThanOrEqual(2);
        proxy = await startTcpProxy(upstream, proxy.port);

        await waitForGovernanceJobs(producer, total, 60_000);
        const expected = await auditIdsOf(database.pool, CHANGE_ACTIONS);
        expect(expected).toHaveLength(total);
        await waitForDelivered(api, receiver, subscription.id, expected.length, 60_000);
        expectExactlyInAuditOrder(receiver.receipts, subscription.id, expected);
        expect((await statusOf(api, subscription.id)).state).toBe('active');
        await worker.close();
      } finally {
        await proxy.cut();
        await receiver.close();
        await api.close();
      }
    },
    150_000,
  );
});
