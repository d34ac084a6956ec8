import { Queue } from 'bullmq';
import { describe, expect, it } from 'vitest';
import { DEVELOPMENT_AUDIT_KEY, createAuditKeyring, verifyAuditChain, listAuditEntriesInOrder, sql } from '../../packages/core/src/index.js';
import { JOB_NAMES, QUEUES, decodeJobFailure, type GoLiveChangePayload } from '../../packages/contract/src/index.js';
import type { BatchApplier } from '../../apps/worker/src/index.js';
import { testRedisUrl } from '../helpers/redis.js';
import { waitFor } from '../helpers/waitFor.js';
import {
  auditCount,
  burstPayload,
  completedChangeJobs,
  createProducer,
  currentSnapshot,
  expectAuditReplaysToState,
  failedChangeJobs,
  startInProcessWorker,
  startWorkerProcess,
  useWorkerFixture,
  waitForGovernanceJobs,
  workerEnv,
} from './support/workerHarness.js';

const fixture = useWorkerFixture('group-commit');
const KEYRING = createAuditKeyring([DEVELOPMENT_AUDIT_KEY]);

const setReleased = () => fixture.current.database.pool.query(sql.unsafe`UPDATE public.go_live_state SET kill_switch_engaged = false WHERE id = 1`);

/** Every job audited once, the executed records match, the chain is intact and the log replays to the state. */
const expectExactlyOnce = async (ids: readonly string[], initial: Awaited<ReturnType<typeof currentSnapshot>>) => {
  const { database } = fixture.current;
  const entries = await expectAuditReplaysToState(database.pool, initial);
  expect(entries).toHaveLength(ids.length);
  expect(new Set(entries.map((entry) => entry.job_id))).toEqual(new Set(ids));
  expect(await database.pool.oneFirst(sql.unsafe`SELECT count(*)::int FROM public.governance_executed_jobs`)).toBe(ids.length);
  expect((await verifyAuditChain(database.pool, KEYRING, { mode: 'full' })).intact).toBe(true);
  return entries;
};

describe('group commit', () => {
  it('1,000 conflicting changes from four clients and two worker processes: each audited once, replay = state, chain intact', async () => {
    const { database, prefix } = fixture.current;
    const initial = await currentSnapshot(database.pool);
    const env = workerEnv(database, prefix, { WORKER_CONCURRENCY: '64', DATABASE_POOL_SIZE: '4' });
    const workers = await Promise.all([startWorkerProcess(env, 'worker 1'), startWorkerProcess(env, 'worker 2')]);
    const clients = Array.from({ length: 4 }, () => createProducer(prefix));
    try {
      const ids = (
        await Promise.all(
          clients.map((client, c) => Promise.all(Array.from({ length: 250 }, (_, i) => client.change(burstPayload(c * 250 + i, `client ${c}`))))),
        )
      ).flat();
      await waitForGovernanceJobs(fixture.current.producer, 1_000, 90_000);
      for (const job of await failedChangeJobs(fixture.current.producer)) expect(decodeJobFailure(job.failedReason)).toMatchObject({ code: expect.stringMatching(/^(PRECONDITION_FAILED|SUPERSEDED)$/), final: true });
      const entries = await expectExactlyOnce(ids, initial);
      // Batches happened: members of one transaction share its timestamp.
      const perTransaction = new Map<string, number>();
      for (const entry of entries) perTransaction.set(entry.created_at, (perTransaction.get(entry.created_at) ?? 0) + 1);
      expect(Math.max(...perTransaction.values())).toBeGreaterThan(1);
      expect(perTransaction.size).toBeLessThan(1_000);
      for (const worker of workers) expect((await worker.stop('SIGTERM')).code).toBe(0);
    } finally {
      for (const client of clients) await client.close();
    }
  });

  it('SIGKILL between a batch commit and its acks: the redelivered members replay, each applied once', async () => {
    const { database, prefix, producer } = fixture.current;
    const initial = await currentSnapshot(database.pool);
    const ids = await Promise.all(Array.from({ length: 60 }, (_, i) => producer.change(burstPayload(i, 'crash'))));
    const doomed = await startWorkerProcess(workerEnv(database, prefix, { WORKER_CONCURRENCY: '64', WORKER_FAULT: 'crash-after-commit:1' }), 'doomed');
    expect(await doomed.exited).toEqual({ code: null, signal: 'SIGKILL' });
    const committedBeforeCrash = await auditCount(database.pool);
    expect(committedBeforeCrash).toBeGreaterThan(0);

    const survivor = await startWorkerProcess(workerEnv(database, prefix, { WORKER_CONCURRENCY: '64' }), 'survivor');
    await waitForGovernanceJobs(producer, 60, 30_000);
    await expectExactlyOnce(ids, initial);
    const replays = survivor.logLines().filter((line) => line.msg === 'job already executed; returning the stored result');
    expect(replays.length).toBe(committedBeforeCrash);
    expect((await survivor.stop('SIGTERM')).code).toBe(0);
  });

  it('a batch whose jobs stall three times: every change applied once, none failed for stalling', async () => {
    const { database, prefix, producer } = fixture.current;
    const initial = await currentSnapshot(database.pool);
    const ids = await Promise.all(Array.from({ length: 20 }, (_, i) => producer.change(burstPayload(i, 'stall'))));
    const tuning = { lockDurationMs: 1_000, stalledIntervalMs: 300 };
    for (let round = 1; round <= 3; round += 1) {
      // A worker whose applier never answers (its database hangs): its jobs stay active until it is gone.
      let release: () => void = () => {};
      const hung = new Promise<never>((_, reject) => {
        release = () => reject(new Error('released after the test abandoned this worker'));
      });
      hung.catch(() => {});
      const hanging: BatchApplier = () => hung;
      const worker = await startInProcessWorker(database, prefix, {
        env: { WORKER_CONCURRENCY: '64', SHUTDOWN_TIMEOUT_MS: '1000' },
        app: { tuning },
        applyBatch: hanging,
      });
      await waitFor(
        async () => {
          const jobs = await Promise.all(ids.map((id) => producer.queues.findJob(id)));
          return jobs.every((job) => job !== undefined && job.stalledCounter >= round - 1) &&
            (await producer.queues.byName[QUEUES.governance].getActiveCount()) + (await producer.queues.byName[QUEUES.governanceSafety].getActiveCount()) === 20;
        },
        { timeoutMs: 15_000, description: `round ${round}: every job active on the hanging worker` },
      );
      await worker.close();
      release();
      // The next worker's stall check finds them once their locks expired.
    }
    const healthy = await startInProcessWorker(database, prefix, { env: { WORKER_CONCURRENCY: '64' }, app: { tuning } });
    try {
      await waitForGovernanceJobs(producer, 20, 30_000);
      const jobs = await Promise.all(ids.map((id) => producer.queues.findJob(id)));
      expect(Math.min(...jobs.map((job) => job!.stalledCounter))).toBeGreaterThanOrEqual(3);
      expect((await completedChangeJobs(producer)).length + (await failedChangeJobs(producer)).length).toBe(20);
      for (const job of await failedChangeJobs(producer)) expect(decodeJobFailure(job.failedReason)).toMatchObject({ code: expect.stringMatching(/^(PRECONDITION_FAILED|SUPERSEDED)$/), final: true });
      await expectExactlyOnce(ids, initial);
    } finally {
      await healthy.close();
    }
  });

  it('an engage goes first behind 1,000 plain-client changes without priority, and 200 older releases are superseded', async () => {
    const { database, prefix, producer } = fixture.current;
    await setReleased();
    const plain = new Queue(QUEUES.governance, { prefix, connection: { url: testRedisUrl() } });
    try {
      const release = (i: number): GoLiveChangePayload => ({ action: 'kill_switch.release', actor: 'svc:other', reason: `plain ${i}` });
      await plain.addBulk(Array.from({ length: 1_000 }, (_, i) => ({ name: JOB_NAMES.goLiveChange, data: i < 200 ? release(i) : burstPayload(i, 'plain') })));
      await new Promise((resolve) => setTimeout(resolve, 5));
      const engageId = await producer.change({ action: 'kill_switch.engage', actor: 'ops:alice', reason: 'incident' });
      const worker = await startInProcessWorker(database, prefix, { env: { WORKER_CONCURRENCY: '4' } });
      try {
        await waitForGovernanceJobs(producer, 1_001, 90_000);
        const entries = await listAuditEntriesInOrder(database.pool);
        const position = entries.findIndex((entry) => entry.job_id === engageId);
        // At most the batch being committed when it arrived (≤ 4 members at this concurrency) went before it.
        expect(position).toBeLessThan(8);
        expect(entries[position]).toMatchObject({ action: 'kill_switch.engage', outcome: 'applied' });
        const releases = entries.filter((entry) => entry.reason.startsWith('plain ') && entry.action === 'kill_switch.release');
        expect(releases.filter((entry) => entry.id > entries[position]!.id).every((entry) => entry.unmet_conditions.includes('not_superseded'))).toBe(true);
      } finally {
        await worker.close();
      }
    } finally {
      await plain.close();
    }
  });
});
