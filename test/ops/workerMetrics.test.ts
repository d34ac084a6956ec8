import { randomUUID } from 'node:crypto';
import { describe, expect, it } from 'vitest';
import { insertVerificationRun, sql } from '../../packages/core/src/index.js';
import { JOB_NAMES, QUEUES, type GoLiveChangePayload } from '../../packages/contract/src/index.js';
import { adminQuery } from '../helpers/database.js';
import { closeGate } from '../helpers/lockGate.js';
import { startOwnRedis } from '../helpers/redisServer.js';
import { waitFor } from '../helpers/waitFor.js';
import { startInProcessWorker, useWorkerFixture, waitForJob } from '../worker/support/workerHarness.js';
import { scrape, type Scrape } from './support/prometheus.js';

const fixture = useWorkerFixture('metrics');

const GOVERNANCE = { queue: QUEUES.governance, name: JOB_NAMES.goLiveChange };
const actor = 'ops:metrics';

/** An in-process worker serving /metrics on a kernel-chosen port of 127.0.0.1. */
const startWorker = async (env: Record<string, string> = {}) => {
  const worker = await startInProcessWorker(fixture.current.database, fixture.current.prefix, {
    env: { METRICS_PORT: '0', HOST: '127.0.0.1', ...env },
  });
  expect(worker.metricsPort).toBeGreaterThan(0);
  return { worker, scrape: () => scrape(worker.metricsPort as number) };
};

const change = (payload: Omit<GoLiveChangePayload, 'actor'>) => fixture.current.producer.change({ actor, ...payload } as GoLiveChangePayload);

/** Scrapes until `probe` holds, returning that scrape. */
const scrapeUntil = (read: () => Promise<Scrape>, probe: (s: Scrape) => boolean, description: string) =>
  waitFor(async () => {
    const s = await read();
    return probe(s) ? s : false;
  }, { timeoutMs: 15_000, intervalMs: 50, description });

/** Go-live changes run on two queues (engages and disables on governance-safety): job counters sum both. */
const SAFETY = { queue: QUEUES.governanceSafety, name: JOB_NAMES.goLiveChange };
const changeJobs = (s: Scrape, metric: string, labels: Record<string, string> = {}) =>
  (s.value(metric, { ...GOVERNANCE, ...labels }) ?? 0) + (s.value(metric, { ...SAFETY, ...labels }) ?? 0);

const counters = (s: Scrape) => ({
  completed: changeJobs(s, 'valhalla_worker_jobs_completed_total'),
  failed: changeJobs(s, 'valhalla_worker_jobs_failed_total'),
  retried: changeJobs(s, 'valhalla_worker_jobs_retried_total'),
  committed: s.value('valhalla_worker_transactions_committed_total'),
  rolledBack: s.value('valhalla_worker_transactions_rolled_back_total'),
  completedDurations: changeJobs(s, 'valhalla_worker_job_duration_seconds_count', { outcome: 'completed' }),
  retriedDurations: changeJobs(s, 'valhalla_worker_job_duration_seconds_count', { outcome: 'retried' }),
  failedDurations: changeJobs(s, 'valhalla_worker_job_duration_seconds_count', { outcome: 'failed' }),
});

describe('worker metrics (GET /metrics on METRICS_PORT)', () => {
  it('counts completed, retried and failed jobs, their durations, and the change transactions committed and rolled back', async () => {
    const { database, producer } = fixture.current;
    // A change whose reason is 'flaky' raises inside its transaction the first time only (a sequence is not rolled
    // back), so its job fails once and succeeds on retry.
    await database.pool.query(sql.unsafe`CREATE SEQUENCE public.test_flaky`);
    await database.pool.query(sql.unsafe`
      CREATE FUNCTION public.test_flaky() RETURNS trigger LANGUAGE plpgsql AS $$
      BEGIN
        IF NEW.reason = 'flaky' THEN
          IF nextval('public.test_flaky') = 1 THEN RAISE EXCEPTION 'flaky change fails once'; END IF;
        END IF;
        RETURN NEW;
      END $$`);
    await database.pool.query(sql.unsafe`
      CREATE TRIGGER test_flaky BEFORE UPDATE ON public.go_live_state FOR EACH ROW EXECUTE FUNCTION public.test_flaky()`);
    const { worker, scrape: read } = await startWorker();

    const first = await read();
    expect(first.status).toBe(200);
    expect(first.contentType).toMatch(/^text\/plain; version=0\.0\.4/);
    // Every known series exists from the start, at 0; default process metrics are there too.
    expect(counters(first)).toMatchObject({ completed: 0, failed: 0, retried: 0, committed: 0, rolledBack: 0 });
    expect(first.has('process_cpu_user_seconds_total')).toBe(true);
    expect(first.has('nodejs_eventloop_lag_seconds')).toBe(true);

    const released = await change({ action: 'kill_switch.release', reason: 'metrics: release' });
    expect((await waitForJob(producer, released)).state).toBe('completed');
    const afterRelease = counters(await scrapeUntil(read, (s) => counters(s).completed === 1, 'completed +1'));
    expect(afterRelease).toMatchObject({ completed: 1, failed: 0, retried: 0, committed: 1, rolledBack: 0, completedDurations: 1 });

    const flaky = await change({ action: 'kill_switch.engage', reason: 'flaky' });
    const flakyOutcome = await waitForJob(producer, flaky);
    expect(flakyOutcome.state).toBe('completed');
    expect(flakyOutcome.attemptsMade).toBeGreaterThanOrEqual(1);
    const afterFlaky = counters(await scrapeUntil(read, (s) => counters(s).completed === 2, 'the flaky job to complete'));
    expect(afterFlaky).toMatchObject({ completed: 2, failed: 0, retried: 1, committed: 2, rolledBack: 1, retriedDurations: 1, completedDurations: 2 });

    // Invalid payload: failed at once (not retried), no transaction at all.
    const invalid = randomUUID();
    await producer.queues.byName[QUEUES.governance].add(JOB_NAMES.goLiveChange, { action: 'go_live.enable' }, { jobId: invalid, attempts: 8, priority: 10 });
    const invalidOutcome = await waitForJob(producer, invalid);
    expect(invalidOutcome.failure).toMatchObject({ code: 'INVALID_PAYLOAD', final: true });
    const afterInvalid = await scrapeUntil(read, (s) => counters(s).failed === 1, 'failed +1');
    expect(counters(afterInvalid)).toMatchObject({ completed: 2, failed: 1, retried: 1, committed: 2, rolledBack: 1, failedDurations: 1 });
    expect(afterInvalid.value('valhalla_queue_jobs', { queue: QUEUES.governance, state: 'failed' })).toBe(1);
    // Failures are counted by their record's code, read as data.
    expect(afterInvalid.value('valhalla_worker_job_failures_total', { queue: QUEUES.governance, name: JOB_NAMES.goLiveChange, code: 'INVALID_PAYLOAD', final: 'true', rejection: 'true' })).toBe(1);

    await worker.close();
    // The listener is closed by the worker's shutdown.
    await expect(fetch(`http://127.0.0.1:${worker.metricsPort}/metrics`)).rejects.toThrow();
  });

  it('labels each failure as a rejection (an outcome) or not (needs a person), and counts a job BullMQ fails for stalling', async () => {
    const { producer } = fixture.current;
    const { worker, scrape: read } = await startWorker();
    const failures = (s: Scrape, queue: string, name: string, code: string) =>
      s.value('valhalla_worker_job_failures_total', { queue, name, code });
    // Every code's series exists at 0 before any failure, so that increase() in the alert sees the first one.
    const fresh = await read();
    for (const code of ['PRECONDITION_FAILED', 'SUPERSEDED', 'INVALID_PAYLOAD', 'ENQUEUE_UNCONFIRMED', 'EXPIRED', 'INTERNAL_ERROR', 'JOB_INTERRUPTED']) {
      expect(failures(fresh, QUEUES.governance, JOB_NAMES.goLiveChange, code), code).toBe(0);
      expect(failures(fresh, QUEUES.verification, JOB_NAMES.migrationVerify, code), code).toBe(0);
    }

    // A routine rejection: go-live enable with the kill switch engaged.
    const rejected = await change({ action: 'go_live.enable', reason: 'metrics: too early' });
    expect((await waitForJob(producer, rejected)).failure).toMatchObject({ code: 'PRECONDITION_FAILED', final: true });
    const afterRejection = await scrapeUntil(read, (s) => failures(s, QUEUES.governance, JOB_NAMES.goLiveChange, 'PRECONDITION_FAILED') === 1, 'the rejection');
    expect(afterRejection.value('valhalla_worker_job_failures_total', { ...GOVERNANCE, code: 'PRECONDITION_FAILED', final: 'true', rejection: 'true' })).toBe(1);

    // A verification job marked by BullMQ's stall check for failure (the `defa` field its moveStalledJobsToWait
    // script sets after maxStalledCount stalls): the next worker to fetch it fails it without running the processor.
    const verification = producer.queues.byName[QUEUES.verification];
    await verification.pause();
    const stalled = randomUUID();
    await verification.add(JOB_NAMES.migrationVerify, { actor }, { jobId: stalled });
    await producer.redis.hset(verification.toKey(stalled), 'defa', 'job stalled more than allowable limit');
    await verification.resume();
    expect((await waitForJob(producer, stalled)).failure).toMatchObject({ code: 'JOB_INTERRUPTED', final: false });
    const afterStall = await scrapeUntil(read, (s) => failures(s, QUEUES.verification, JOB_NAMES.migrationVerify, 'JOB_INTERRUPTED') === 1, 'the stalled job');
    expect(
      afterStall.value('valhalla_worker_job_failures_total', { queue: QUEUES.verification, name: JOB_NAMES.migrationVerify, code: 'JOB_INTERRUPTED', final: 'false', rejection: 'false' }),
    ).toBe(1);
    await worker.close();
  });

  it('reports queue depth by state at scrape time: waiting while paused, delayed, active, back to 0 once drained', async () => {
    const { database, producer } = fixture.current;
    // A change whose reason is 'slow' waits at a gate the test holds, so the job is seen active for as long as needed.
    await database.pool.query(sql.unsafe`
      CREATE FUNCTION public.test_slow() RETURNS trigger LANGUAGE plpgsql AS $$
      BEGIN
        IF NEW.reason = 'slow' THEN PERFORM pg_advisory_xact_lock(727001); END IF;
        RETURN NEW;
      END $$`);
    await database.pool.query(sql.unsafe`
      CREATE TRIGGER test_slow BEFORE UPDATE ON public.go_live_state FOR EACH ROW EXECUTE FUNCTION public.test_slow()`);
    const { worker, scrape: read } = await startWorker();
    const depth = (s: Scrape, state: string) => s.value('valhalla_queue_jobs', { queue: QUEUES.governance, state });
    const governance = producer.queues.byName[QUEUES.governance];

    const idle = await read();
    for (const state of ['waiting', 'active', 'delayed', 'failed']) expect(depth(idle, state), state).toBe(0);
    expect(idle.value('valhalla_metrics_source_up', { source: 'redis' })).toBe(1);

    await governance.pause();
    // Releases: engages and disables take the governance-safety queue, which this test does not pause.
    const queued = await Promise.all([1, 2, 3].map((i) => change({ action: 'kill_switch.release', reason: `paused ${i}` })));
    const delayed = randomUUID();
    await governance.add(JOB_NAMES.goLiveChange, { action: 'kill_switch.release', actor, reason: 'later' }, { jobId: delayed, delay: 600_000, priority: 10 });
    const paused = await read();
    expect(depth(paused, 'waiting')).toBe(3);
    expect(depth(paused, 'delayed')).toBe(1);
    expect(depth(paused, 'active')).toBe(0);

    await governance.resume();
    for (const id of queued) expect((await waitForJob(producer, id)).state).toBe('completed');
    await scrapeUntil(read, (s) => depth(s, 'waiting') === 0, 'waiting back to 0');

    const gate = await closeGate(database.url, 727001);
    try {
      const slow = await change({ action: 'kill_switch.release', reason: 'slow' });
      await scrapeUntil(read, (s) => depth(s, 'active') === 1, 'the slow job to be active');
      await gate.open();
      expect((await waitForJob(producer, slow)).state).toBe('completed');
    } finally {
      await gate.open();
    }
    await (await governance.getJob(delayed))?.remove();
    const drained = await scrapeUntil(read, (s) => depth(s, 'active') === 0 && depth(s, 'delayed') === 0, 'the queue to drain');
    expect(depth(drained, 'waiting')).toBe(0);
    expect(counters(drained).completed).toBe(4);
    await worker.close();
  });

  it('reads go-live state and the last verification from the database at scrape time', async () => {
    const { database, producer } = fixture.current;
    const { worker, scrape: read } = await startWorker();

    // The worker's own startup verification passes.
    const started = await scrapeUntil(read, (s) => s.value('valhalla_last_verification_passed') === 1, 'the startup verification');
    expect(started.value('valhalla_last_verification_age_seconds')).toBeLessThan(60);
    expect(started.value('valhalla_live')).toBe(0);
    expect(started.value('valhalla_go_live_enabled')).toBe(0);
    expect(started.value('valhalla_kill_switch_engaged')).toBe(1);

    // A failed run an hour old, recorded by someone else: the gauges follow the database, not this process.
    const hourAgo = new Date(Date.now() - 3_600_000);
    await insertVerificationRun(database.pool, {
      jobId: null,
      release: 'older',
      migrationHead: worker.migrationHead,
      actor: 'ops:metrics',
      startedAt: hourAgo,
      finishedAt: hourAgo,
      passed: false,
      checks: [],
    });
    const failed = await read();
    expect(failed.value('valhalla_last_verification_passed')).toBe(0);
    expect(failed.value('valhalla_last_verification_age_seconds')).toBeGreaterThanOrEqual(3_600);

    const verify = await producer.queues.enqueue(JOB_NAMES.migrationVerify, { actor });
    expect((await waitForJob(producer, verify.id as string)).state).toBe('completed');
    const verified = await read();
    expect(verified.value('valhalla_last_verification_passed')).toBe(1);
    expect(verified.value('valhalla_last_verification_age_seconds')).toBeLessThan(60);
    expect(verified.value('valhalla_worker_jobs_completed_total', { queue: QUEUES.verification, name: JOB_NAMES.migrationVerify })).toBe(2);

    for (const payload of [
      { action: 'kill_switch.release', reason: 'metrics: release' },
      { action: 'metadata.update', reason: 'metrics: backend done', metadata: { backend_complete: true } },
      { action: 'go_live.enable', reason: 'metrics: launch' },
    ] as const) {
      expect((await waitForJob(producer, await change(payload as never))).state).toBe('completed');
    }
    const live = await read();
    expect(live.value('valhalla_live')).toBe(1);
    expect(live.value('valhalla_go_live_enabled')).toBe(1);
    expect(live.value('valhalla_kill_switch_engaged')).toBe(0);

    expect((await waitForJob(producer, await change({ action: 'kill_switch.engage', reason: 'metrics: incident' }))).state).toBe('completed');
    const engaged = await read();
    expect(engaged.value('valhalla_live')).toBe(0);
    expect(engaged.value('valhalla_go_live_enabled')).toBe(1);
    expect(engaged.value('valhalla_kill_switch_engaged')).toBe(1);
    await worker.close();
  });

  it('still answers 200 with what it can read while Redis or PostgreSQL is down', async () => {
    const { database } = fixture.current;
    const redis = await startOwnRedis();
    const { worker, scrape: read } = await startWorker({ REDIS_URL: redis.url });
    await scrapeUntil(read, (s) => s.value('valhalla_last_verification_passed') === 1, 'the startup verification');

    await redis.kill();
    const noRedis = await read();
    expect(noRedis.status).toBe(200);
    expect(noRedis.value('valhalla_metrics_source_up', { source: 'redis' })).toBe(0);
    expect(noRedis.value('valhalla_metrics_source_up', { source: 'database' })).toBe(1);
    expect(noRedis.has('valhalla_queue_jobs')).toBe(false);
    expect(noRedis.value('valhalla_kill_switch_engaged')).toBe(1);
    expect(noRedis.value('valhalla_worker_jobs_completed_total', GOVERNANCE)).toBe(0);
    await redis.restart();

    // PostgreSQL refuses this database: existing connections are terminated and new ones refused.
    await adminQuery(`ALTER DATABASE ${database.name} WITH ALLOW_CONNECTIONS false`);
    try {
      await adminQuery(`SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE datname = '${database.name}' AND pid <> pg_backend_pid()`);
      const noDatabase = await scrapeUntil(
        read,
        (s) => s.value('valhalla_metrics_source_up', { source: 'redis' }) === 1,
        'redis to be back while the database is refused',
      );
      expect(noDatabase.status).toBe(200);
      expect(noDatabase.value('valhalla_metrics_source_up', { source: 'database' })).toBe(0);
      expect(noDatabase.has('valhalla_live')).toBe(false);
      expect(noDatabase.has('valhalla_last_verification_passed')).toBe(false);
      expect(noDatabase.value('valhalla_queue_jobs', { queue: QUEUES.governance, state: 'waiting' })).toBe(0);
      expect(noDatabase.has('process_cpu_user_seconds_total')).toBe(true);
    } finally {
      await adminQuery(`ALTER DATABASE ${database.name} WITH ALLOW_CONNECTIONS true`);
    }
    await scrapeUntil(read, (s) => s.value('valhalla_metrics_source_up', { source: 'database' }) === 1, 'the database to be read again');
    await worker.close();
    await redis.stop();
  });
});
