import pg from 'pg';
import { describe, expect, it } from 'vitest';
import { acceptJob, createDatabasePool, listAuditEntriesInOrder, readGovernanceRows, sql } from '../../packages/core/src/index.js';
import { JOB_CATALOG, JOB_NAMES, QUEUES, decodeJobFailure, queueForJob } from '../../packages/contract/src/index.js';
import { useTestDatabase, type TestDatabase } from '../helpers/database.js';
import { testRedisUrl, uniqueQueuePrefix } from '../helpers/redis.js';
import { waitFor } from '../helpers/waitFor.js';
import { createProducer, startInProcessWorker, waitForJob } from '../worker/support/workerHarness.js';
import { startApiProcess } from './processes.js';
import { ALICE, bearer, startApi } from './support.js';
import { startTcpProxy, type TcpProxy } from './tcpProxy.js';

const database = useTestDatabase({ poolSize: 5, perTest: true });

const auditFor = async (jobId: string) => (await listAuditEntriesInOrder(database.current.pool)).filter((entry) => entry.job_id === jobId);
const killSwitchEngaged = async () => (await readGovernanceRows(database.current.pool))!.goLive.kill_switch_engaged;
const setReleased = () => database.current.pool.query(sql.unsafe`UPDATE public.go_live_state SET kill_switch_engaged = false WHERE id = 1`);

/** A TCP proxy to the test database, and a pool and URL through it: PostgreSQL can be taken from one client only. */
const proxiedDatabase = async (): Promise<{ database: TestDatabase; proxy: () => TcpProxy; cut: () => Promise<void>; silence: () => void; restore: () => Promise<void>; close: () => Promise<void> }> => {
  const target = new URL(database.current.url);
  const upstream = { host: target.hostname, port: Number(target.port || 5432) };
  let proxy = await startTcpProxy(upstream);
  const port = proxy.port;
  const url = new URL(database.current.url);
  url.port = String(port);
  const pool = await createDatabasePool({ connectionUri: url.toString(), maxPoolSize: 4, applicationName: 'faults-test', connectionTimeoutMs: 1_000 });
  return {
    database: { ...database.current, url: url.toString(), pool },
    proxy: () => proxy,
    cut: () => proxy.cut(),
    silence: () => proxy.silence(),
    restore: async () => {
      proxy = await startTcpProxy(upstream, port);
    },
    close: async () => {
      await pool.end();
      await proxy.cut();
    },
  };
};

/** Node's clock moved by `skewMs` in a process started with this NODE_OPTIONS (Date.now is what BullMQ stamps jobs with). */
const skewedClock = (skewMs: number) =>
  `--import=data:text/javascript,${encodeURIComponent(`const n=Date.now;Date.now=()=>n()+(${skewMs});`)}`;

describe('faults around the acceptance record', () => {
  it('a frozen holder of row 1 (idle in its transaction) is preempted: an engage still applies within a second', async () => {
    await setReleased();
    // What a worker frozen mid-batch looks like to PostgreSQL: a session idle in a transaction that locked row 1.
    const holder = new pg.Client({ connectionString: database.current.url });
    await holder.connect();
    holder.on('error', () => {});
    await holder.query('BEGIN');
    await holder.query('SELECT 1 FROM public.go_live_state WHERE id = 1 FOR UPDATE');
    const api = await startApi(database.current);
    try {
      const started = performance.now();
      const engaged = await api.app.inject({ method: 'POST', url: '/api/governance/kill-switch', payload: { engaged: true, reason: 'while a worker is frozen' }, headers: bearer() });
      const took = performance.now() - started;
      expect(engaged.statusCode).toBe(200);
      expect(engaged.json()).toMatchObject({ status: 'completed', result: { outcome: 'applied' } });
      expect(took).toBeLessThan(1_000);
      expect(await killSwitchEngaged()).toBe(true);
      // The holder's session was ended: its transaction rolled back.
      await expect(holder.query('SELECT 1')).rejects.toThrow();
    } finally {
      await api.close();
      await holder.end().catch(() => undefined);
    }
  });

  it('an engage whose session ends in the middle of its transaction while PostgreSQL answers is applied in the request: 200, once', async () => {
    // Found by the fault run: an engage of one api preempted by another's (an idle holder of row 1 on a starved CPU),
    // or a terminated backend, answered 202 "PostgreSQL is unreachable" and waited for a worker.
    await setReleased();
    await database.current.pool.query(sql.unsafe`CREATE SEQUENCE public.test_once`);
    await database.current.pool.query(sql.unsafe`
      CREATE FUNCTION public.test_stall_first_execution() RETURNS trigger LANGUAGE plpgsql AS $$
      BEGIN
        IF nextval('public.test_once') = 1 THEN PERFORM pg_sleep(30); END IF;
        RETURN NEW;
      END $$`);
    await database.current.pool.query(sql.unsafe`
      CREATE TRIGGER test_stall_first_execution BEFORE INSERT ON public.governance_executed_jobs
      FOR EACH ROW EXECUTE FUNCTION public.test_stall_first_execution()`);
    const api = await startApi(database.current);
    try {
      const pending = api.app.inject({ method: 'POST', url: '/api/governance/kill-switch', payload: { engaged: true, reason: 'session ended under it' }, headers: bearer() });
      const stalled = await waitFor(
        async () => (await database.current.pool.maybeOneFirst(sql.unsafe`
          SELECT pid FROM pg_stat_activity WHERE datname = current_database() AND wait_event = 'PgSleep'`)) ?? false,
        { timeoutMs: 10_000, description: 'the engage transaction to stall' },
      );
      await database.current.pool.query(sql.unsafe`SELECT pg_terminate_backend(${stalled as number})`);
      const answer = await pending;
      expect(answer.statusCode, answer.body).toBe(200);
      const body = answer.json<{ jobId: string; status: string; result: { outcome: string } }>();
      expect(body).toMatchObject({ status: 'completed', result: { outcome: 'applied' } });
      expect(await killSwitchEngaged()).toBe(true);
      expect(await auditFor(body.jobId)).toHaveLength(1);
    } finally {
      await api.close();
    }
  });

  it('an engage posted while PostgreSQL is unreachable is queued (202, says so), and applied the moment the database returns', async () => {
    await setReleased();
    const db = await proxiedDatabase();
    const api = await startApi(db.database);
    // A backoff this long would hold the engage for seconds after the database is back; the safety lane does not use it.
    const worker = await startInProcessWorker(db.database, api.prefix, { env: { TRANSIENT_RETRY_BASE_MS: '8000', TRANSIENT_RETRY_MAX_MS: '8000' } });
    try {
      await db.cut();
      const queued = await api.app.inject({
        method: 'POST',
        url: '/api/governance/kill-switch',
        payload: { engaged: true, reason: 'during the outage' },
        headers: { ...bearer(), 'idempotency-key': 'engage-during-outage' },
      });
      expect(queued.statusCode).toBe(202);
      expect(queued.json()).toMatchObject({ status: 'queued', detail: expect.stringMatching(/PostgreSQL is unreachable/) });
      const { jobId } = queued.json<{ jobId: string }>();
      // The worker took it and waits for the database.
      await waitFor(async () => (await api.queues.byName[QUEUES.governanceSafety].getActiveCount()) === 1, { timeoutMs: 10_000, description: 'the engage taken by the worker' });
      const hold = Date.now() + 1_500;
      await waitFor(async () => Date.now() > hold, { timeoutMs: 5_000, description: 'the outage to last' });
      await db.restore();
      const restoredAt = performance.now();
      await waitFor(async () => killSwitchEngaged(), { timeoutMs: 10_000, intervalMs: 20, description: 'the engage applied' });
      expect(performance.now() - restoredAt).toBeLessThan(5_000);
      expect(await auditFor(jobId)).toHaveLength(1);

      // The key travelled with the job and was claimed when it was applied: bound to that engage.
      const repeated = await api.app.inject({ method: 'POST', url: '/api/governance/kill-switch', payload: { engaged: true, reason: 'during the outage' }, headers: { ...bearer(), 'idempotency-key': 'engage-during-outage' } });
      expect(repeated.statusCode).toBe(200);
      expect(repeated.json()).toMatchObject({ jobId, status: 'completed' });
      const reused = await api.app.inject({ method: 'POST', url: '/api/governance/go-live', payload: { enabled: false, reason: 'another request' }, headers: { ...bearer(), 'idempotency-key': 'engage-during-outage' } });
      expect(reused.statusCode).toBe(409);
      expect(reused.json().error.code).toBe('IDEMPOTENCY_CONFLICT');
    } finally {
      await worker.close();
      await api.close();
      await db.close();
    }
  });

  it('an engage while PostgreSQL is silent (no error, no answer) is queued within the deadline, not held until it returns, and applied once', async () => {
    // A partition or a frozen server fails no query by itself; found by the benchmark's outage step (an engage
    // held until the database came back, minutes when it did not).
    await setReleased();
    const db = await proxiedDatabase();
    const api = await startApi(db.database);
    try {
      // The api's pool holds open connections through the proxy (a read just used them), which now go silent.
      await Promise.all(Array.from({ length: 4 }, () => api.app.inject({ method: 'GET', url: '/api/governance/state', headers: bearer() })));
      db.silence();
      const started = performance.now();
      const queued = await api.app.inject({ method: 'POST', url: '/api/governance/kill-switch', payload: { engaged: true, reason: 'database silent' }, headers: bearer() });
      const took = performance.now() - started;
      expect(queued.statusCode).toBe(202);
      expect(queued.json()).toMatchObject({ status: 'queued', detail: expect.stringMatching(/did not answer in time/) });
      expect(took).toBeLessThan(6_000);
      const { jobId } = queued.json<{ jobId: string }>();
      await db.cut();
      await db.restore();
      const worker = await startInProcessWorker(db.database, api.prefix);
      try {
        await waitFor(async () => (await auditFor(jobId)).length === 1, { timeoutMs: 15_000, description: 'the queued engage applied' });
        expect(await killSwitchEngaged()).toBe(true);
        // Applied once, whether the request's own transaction or the worker's got there first.
        await waitFor(async () => (await api.queues.byName[QUEUES.governanceSafety].getJobCounts('active', 'waiting', 'delayed', 'prioritized')).active === 0, { timeoutMs: 10_000, description: 'the safety lane drained' });
        expect(await auditFor(jobId)).toHaveLength(1);
      } finally {
        await worker.close();
      }
    } finally {
      await api.close();
      await db.close();
    }
  });

  it('other writes while PostgreSQL is unreachable answer 503 and are never applied', async () => {
    const db = await proxiedDatabase();
    const api = await startApi(db.database);
    try {
      await db.cut();
      const before = await api.jobCount();
      for (const [url, payload] of [
        ['/api/governance/kill-switch', { engaged: false, reason: 'r' }],
        ['/api/governance/go-live', { enabled: true, reason: 'e' }],
        ['/api/governance/system-metadata', { notes: 'n', reason: 'm' }],
        ['/api/governance/verify', {}],
      ] as const) {
        const refused = await api.app.inject({ method: 'POST', url, payload, headers: bearer() });
        expect(refused.statusCode, url).toBe(503);
        expect(refused.json().error.code).toBe('DEPENDENCY_UNAVAILABLE');
      }
      expect(await api.jobCount()).toBe(before);
      expect(await database.current.pool.oneFirst(sql.unsafe`SELECT count(*)::int FROM public.governance_accepted_jobs`)).toBe(0);
    } finally {
      await api.close();
      await db.close();
    }
  });

  it('a change recorded but never enqueued (the api died between the two) is enqueued by the reconciler and applied once', async () => {
    const prefix = uniqueQueuePrefix('recorded');
    const payload = { action: 'kill_switch.release', actor: ALICE.actor, reason: 'recorded, then the api died' } as const;
    const recorded = await acceptJob(database.current.pool, {
      jobId: 'recorded-not-enqueued',
      queue: queueForJob(JOB_NAMES.goLiveChange, payload),
      jobName: JOB_NAMES.goLiveChange,
      payload,
      actor: ALICE.actor,
    });
    expect(recorded.kind).toBe('accepted');
    const producer = createProducer(prefix);
    const worker = await startInProcessWorker(database.current, prefix, { app: { tuning: { reconcileIntervalMs: 100, reconcileGraceMs: 200 } } });
    try {
      expect((await waitForJob(producer, 'recorded-not-enqueued')).state).toBe('completed');
    } finally {
      await worker.close();
      await producer.close();
    }
    expect(await auditFor('recorded-not-enqueued')).toEqual([expect.objectContaining({ action: 'kill_switch.release', outcome: 'applied' })]);
  });
});

describe('one order, whatever the clocks', () => {
  it('two api instances whose clocks differ by seconds: a release accepted before an engage never undoes it', async () => {
    await setReleased();
    const prefix = uniqueQueuePrefix('clocks');
    const env = { databaseUrl: database.current.url, redisUrl: testRedisUrl(), prefix };
    // The instance that accepts the release runs 30 s ahead; the one that applies the engage 30 s behind.
    const ahead = await startApiProcess({ ...env, extra: { NODE_OPTIONS: skewedClock(30_000) } });
    const behind = await startApiProcess({ ...env, extra: { NODE_OPTIONS: skewedClock(-30_000) } });
    const producer = createProducer(prefix);
    try {
      const post = async (url: string, path: string, body: object) => {
        const response = await fetch(`${url}${path}`, { method: 'POST', headers: { ...bearer(), 'content-type': 'application/json' }, body: JSON.stringify(body) });
        return { status: response.status, body: (await response.json()) as { jobId: string; status: string } };
      };
      const release = await post(ahead.url, '/api/governance/kill-switch', { engaged: false, reason: 'accepted first, on the fast clock' });
      expect(release.status).toBe(202);
      const engage = await post(behind.url, '/api/governance/kill-switch', { engaged: true, reason: 'accepted second, on the slow clock' });
      expect(engage.status).toBe(200);
      // And a release accepted after the engage, on the slow clock, is a newer intent.
      const later = await post(behind.url, '/api/governance/kill-switch', { engaged: false, reason: 'after the engage' });
      const worker = await startInProcessWorker(database.current, prefix);
      try {
        const first = await waitForJob(producer, release.body.jobId);
        expect(decodeJobFailure(first.failedReason ?? '')).toMatchObject({ code: 'SUPERSEDED' });
        expect((await waitForJob(producer, later.body.jobId)).state).toBe('completed');
      } finally {
        await worker.close();
      }
      expect(await killSwitchEngaged()).toBe(false);
      const entries = await listAuditEntriesInOrder(database.current.pool);
      expect(entries.filter((entry) => [release.body.jobId, engage.body.jobId, later.body.jobId].includes(entry.job_id!)).map((entry) => [entry.action, entry.outcome])).toEqual([
        ['kill_switch.engage', 'applied'],
        ['kill_switch.release', 'rejected'],
        ['kill_switch.release', 'applied'],
      ]);
    } finally {
      await producer.close();
      await ahead.process.stop();
      await behind.process.stop();
    }
  });

  it('a job added straight to a queue with a timestamp in the future is clamped to the database clock', async () => {
    const api = await startApi(database.current);
    const producer = createProducer(api.prefix);
    const worker = await startInProcessWorker(database.current, api.prefix);
    try {
      const payload = { action: 'kill_switch.engage', actor: 'other-service', reason: 'stamped a year ahead' } as const;
      await producer.queues.byName[QUEUES.governanceSafety].add(JOB_NAMES.goLiveChange, payload, {
        ...JOB_CATALOG[JOB_NAMES.goLiveChange].options(payload),
        jobId: 'future-engage',
        timestamp: Date.now() + 365 * 24 * 3600 * 1000,
      });
      expect((await waitForJob(producer, 'future-engage')).state).toBe('completed');
      const marks = (await database.current.pool.one(sql.unsafe`SELECT engage_ms, engage_direct_ms FROM public.governance_safety_watermarks WHERE id = 1`)) as { engage_ms: number; engage_direct_ms: number };
      expect(marks.engage_ms).toBeLessThanOrEqual(Date.now());
      expect(marks.engage_direct_ms).toBe(marks.engage_ms);
      // A release accepted now is newer than that engage: it applies (unclamped, it was SUPERSEDED for a year).
      const release = await api.app.inject({ method: 'POST', url: '/api/governance/kill-switch', payload: { engaged: false, reason: 'after it' }, headers: bearer() });
      expect((await waitForJob(producer, release.json<{ jobId: string }>().jobId)).state).toBe('completed');
      expect(await killSwitchEngaged()).toBe(false);
    } finally {
      await worker.close();
      await producer.close();
      await api.close();
    }
  });
});
