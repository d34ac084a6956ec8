import { Redis } from 'ioredis';
import { describe, expect, it, onTestFinished } from 'vitest';
import { createGovernanceQueues, listLiveWorkers, sql } from '../../packages/core/src/index.js';
import { QUEUES, decodeJobFailure, type GoLiveChangePayload } from '../../packages/contract/src/index.js';
import { adminQuery } from '../helpers/database.js';
import { closeGate } from '../helpers/lockGate.js';
import { track } from '../helpers/leaks.js';
import { startOwnRedis } from '../helpers/redisServer.js';
import { waitFor } from '../helpers/waitFor.js';
import {
  auditCount,
  changeJobCounts,
  failedChangeJobs,
  burstPayload,
  currentSnapshot,
  expectAuditReplaysToState,
  startWorkerProcess,
  useWorkerFixture,
  waitForGovernanceJobs,
  workerEnv,
} from './support/workerHarness.js';

const fixture = useWorkerFixture('resilience');

const terminateWorkerBackends = async (databaseName: string): Promise<number> =>
  (
    await adminQuery(`
      SELECT pg_terminate_backend(pid) FROM pg_stat_activity
      WHERE application_name = 'valhalla-worker' AND datname = '${databaseName}' AND pid <> pg_backend_pid()`)
  ).rowCount ?? 0;

describe('worker resilience', () => {
  it('reconnects by itself after Redis restarts with its data lost, and processes new jobs', async () => {
    const { database, prefix } = fixture.current;
    const redis = await startOwnRedis();
    const connection: Redis = track(new Redis(redis.url, { maxRetriesPerRequest: null }), {
      description: 'producer on own redis',
      isOpen: (): boolean => connection.status !== 'end',
      close: async () => connection.disconnect(),
    });
    connection.on('error', () => {});
    const queues = createGovernanceQueues({ connection, prefix });
    for (const queue of Object.values(queues.byName)) queue.on('error', () => {});
    const worker = await startWorkerProcess(workerEnv(database, prefix, { REDIS_URL: redis.url }), 'worker on own redis');
    const finished = async (jobId: string) =>
      waitFor(async () => (await (await queues.findJob(jobId))?.getState()) === 'completed', { timeoutMs: 20_000, description: `job ${jobId} completed` });

    const before = await queues.enqueue('go-live-change', { action: 'kill_switch.release', actor: 'ops', reason: 'before the outage' });
    await finished(before.id!);

    await redis.kill();
    await redis.restart();
    const after = await queues.enqueue('go-live-change', { action: 'kill_switch.engage', actor: 'ops', reason: 'after the outage' });
    await finished(after.id!);
    const jobIds = (await database.pool.any(sql.unsafe`SELECT job_id FROM public.governance_audit_log WHERE kind = 'change' ORDER BY id`)).map((row) => (row as { job_id: string }).job_id);
    expect(jobIds).toEqual([before.id, after.id]);
    expect(await currentSnapshot(database.pool)).toMatchObject({ kill_switch_engaged: true });

    expect((await worker.stop('SIGTERM')).code).toBe(0);
    await queues.close();
    connection.disconnect();
    await redis.stop();
  });

  it('retries jobs whose PostgreSQL backend was terminated: every job ends, none lost or applied twice', async () => {
    const { database, prefix, producer } = fixture.current;
    const total = 300;
    const initial = await currentSnapshot(database.pool);
    const worker = await startWorkerProcess(workerEnv(database, prefix), 'worker');
    const ids = await Promise.all(Array.from({ length: total }, (_, i) => producer.change(burstPayload(i, 'terminate'))));

    let terminated = 0;
    for (const threshold of [30, 80, 130, 180]) {
      await waitFor(async () => (await auditCount(database.pool)) >= threshold, { intervalMs: 5, timeoutMs: 20_000 });
      terminated += await terminateWorkerBackends(database.name);
    }
    expect(terminated).toBeGreaterThan(0);
    await waitForGovernanceJobs(producer, total, 60_000);

    const failed = await failedChangeJobs(producer);
    for (const job of failed) expect(decodeJobFailure(job.failedReason)).toMatchObject({ code: expect.stringMatching(/^(PRECONDITION_FAILED|SUPERSEDED)$/), final: true });
    const entries = await expectAuditReplaysToState(database.pool, initial);
    expect(entries).toHaveLength(total);
    expect(new Set(entries.map((entry) => entry.job_id))).toEqual(new Set(ids));
    // The terminations hit jobs in flight: those went to the delayed set (transient) and ran again.
    expect(worker.logLines().some((line) => line.msg === 'transient failure; the job waits in the delayed set and runs again' && typeof line.nextDelayMs === 'number')).toBe(true);
    expect((await worker.stop('SIGTERM')).code).toBe(0);
  });

  it('SIGTERM under load: drains the jobs in flight, exits 0 within the deadline, leaves none active, removes its heartbeat', async () => {
    const { database, prefix, producer } = fixture.current;
    // Changes wait at a gate the test holds (under the row lock, inside their transaction), so that jobs are surely in
    // flight when the signal arrives, however fast or slow the machine; the test opens it once the worker drains.
    await database.pool.query(sql.unsafe`
      CREATE FUNCTION public.test_gated() RETURNS trigger LANGUAGE plpgsql AS $$
      BEGIN
        IF NEW.reason LIKE 'gated%' THEN PERFORM pg_advisory_xact_lock(727001); END IF;
        RETURN NEW;
      END $$`);
    await database.pool.query(sql.unsafe`CREATE TRIGGER test_gated BEFORE UPDATE ON public.go_live_state FOR EACH ROW EXECUTE FUNCTION public.test_gated()`);
    const gate = await closeGate(database.url, 727001);
    onTestFinished(() => gate.open());
    const shutdownTimeoutMs = 10_000;
    const worker = await startWorkerProcess(
      workerEnv(database, prefix, { SHUTDOWN_TIMEOUT_MS: String(shutdownTimeoutMs), HEARTBEAT_INTERVAL_MS: '200' }),
      'worker',
    );
    const pid = worker.child.pid;
    const heartbeat = await waitFor(async () => (await listLiveWorkers(database.pool, 60_000)).find((row) => row.pid === pid), {
      description: 'the heartbeat row',
    });
    expect(heartbeat.release).toBe('test-release');
    const firstSeen = heartbeat.last_seen_at;
    await waitFor(async () => (await listLiveWorkers(database.pool, 60_000)).find((row) => row.pid === pid && row.last_seen_at > firstSeen), {
      description: 'the heartbeat to beat again',
    });

    const payloads: GoLiveChangePayload[] = Array.from({ length: 200 }, (_, i) => ({
      action: i % 2 === 0 ? 'kill_switch.release' : 'kill_switch.engage',
      actor: 'ops',
      reason: `gated ${i}`,
    }));
    await Promise.all(payloads.map((payload) => producer.change(payload)));
    // A batch is in flight: its transaction waits at the gate. Engages go to the safety lane's queue, releases to the
    // governance queue; whichever lane reached row 1 first waits at the gate, the other behind it.
    const activeChanges = async () =>
      (await producer.queues.byName[QUEUES.governance].getActiveCount()) + (await producer.queues.byName[QUEUES.governanceSafety].getActiveCount());
    await waitFor(
      async () =>
        (await activeChanges()) > 0 &&
        ((await adminQuery(`SELECT 1 FROM pg_locks l JOIN pg_database d ON d.oid = l.database WHERE d.datname = '${database.name}' AND l.locktype = 'advisory' AND NOT l.granted`)).rowCount ?? 0) > 0,
      // The worker starts and takes its first batch: seconds on a loaded machine.
      { description: 'a batch in flight, waiting at the gate', timeoutMs: 60_000 },
    );

    const started = Date.now();
    worker.child.kill('SIGTERM');
    // A second signal while draining changes nothing.
    worker.child.kill('SIGTERM');
    // The drain step logs 'worker stopping' as it pauses the workers: from then on the worker takes no more jobs, and
    // the ones in flight may finish.
    await waitFor(() => worker.logLines().some((line) => line.msg === 'worker stopping'), {
      description: 'the worker to stop taking jobs',
    });
    await gate.open();
    const exit = await worker.exited;
    const elapsed = Date.now() - started;
    expect(exit).toEqual({ code: 0, signal: null });
    expect(elapsed).toBeLessThan(shutdownTimeoutMs);

    const counts = await changeJobCounts(producer);
    expect(counts.active).toBe(0);
    // Every change that committed was acknowledged: no job is left to be redelivered after a commit.
    expect((counts.completed ?? 0) + (counts.failed ?? 0)).toBe(await auditCount(database.pool));
    expect(counts.completed).toBeLessThan(payloads.length);
    expect((await listLiveWorkers(database.pool, 60_000)).filter((row) => row.pid === pid)).toEqual([]);
    expect(worker.logLines().some((line) => line.msg === 'worker stopped')).toBe(true);
  });

  it('SIGTERM with a job slower than the deadline: exits 0 at the deadline; the job is redelivered and applied once', async () => {
    const { database, prefix, producer } = fixture.current;
    await database.pool.query(sql.unsafe`
      CREATE FUNCTION public.test_stuck() RETURNS trigger LANGUAGE plpgsql AS $$
      BEGIN
        IF NEW.reason = 'stuck' THEN PERFORM pg_advisory_xact_lock(727002); END IF;
        RETURN NEW;
      END $$`);
    await database.pool.query(sql.unsafe`CREATE TRIGGER test_stuck BEFORE UPDATE ON public.go_live_state FOR EACH ROW EXECUTE FUNCTION public.test_stuck()`);
    const env = workerEnv(database, prefix, { SHUTDOWN_TIMEOUT_MS: '1000' });
    // The job waits at a gate the test holds until the worker has given up on it: slower than any deadline.
    const gate = await closeGate(database.url, 727002);
    onTestFinished(() => gate.open());
    const worker = await startWorkerProcess(env, 'worker');
    const jobId = await producer.change({ action: 'kill_switch.release', actor: 'ops', reason: 'stuck' });
    const queue = producer.queues.byName[QUEUES.governance];
    await waitFor(async () => (await queue.getActiveCount()) === 1, { description: 'the slow job in flight' });

    const started = Date.now();
    worker.child.kill('SIGTERM');
    expect(await worker.exited).toEqual({ code: 0, signal: null });
    expect(Date.now() - started).toBeLessThan(10_000);
    expect(worker.logLines().some((line) => line.msg === 'in-flight jobs did not finish before the shutdown deadline; closing anyway')).toBe(true);
    await gate.open();

    const successor = await startWorkerProcess(env, 'successor');
    await waitFor(async () => (await (await producer.queues.findJob(jobId))?.getState()) === 'completed', {
      timeoutMs: 20_000,
      description: 'the abandoned job to be redelivered and completed',
    });
    // Read after it completed: a copy fetched before the state check may predate its completion.
    expect((await producer.queues.findJob(jobId))?.returnvalue).toMatchObject({ outcome: 'applied', action: 'kill_switch.release' });
    expect(await auditCount(database.pool)).toBe(1);
    expect((await successor.stop('SIGTERM')).code).toBe(0);
  });
});
