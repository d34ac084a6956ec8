import { describe, expect, it } from 'vitest';
import { createDatabasePool, listAuditEntriesInOrder, readGovernanceRows, sql } from '../../packages/core/src/index.js';
import { QUEUES, decodeJobFailure, type ChangeResult } from '../../packages/contract/src/index.js';
import { databaseUrlFor } from '../helpers/services.js';
import { adminDatabaseUrl, useTestDatabase } from '../helpers/database.js';
import { freePort, startOwnRedis } from '../helpers/redisServer.js';
import { waitFor } from '../helpers/waitFor.js';
import { createProducer, startInProcessWorker, waitForGovernanceJobs, waitForJob } from '../worker/support/workerHarness.js';
import { bearer, startApi } from './support.js';
import { startTcpProxy } from './tcpProxy.js';

const database = useTestDatabase({ poolSize: 5, perTest: true });

const engage = { engaged: true, reason: 'incident' };
const disable = { enabled: false, reason: 'pause' };
/** The reconciler of an in-process worker, looking often: the tests wait for what it does, not for its interval. */
const FAST_RECONCILER = { tuning: { reconcileIntervalMs: 200, reconcileGraceMs: 300 } };

const auditFor = async (jobId: string) => (await listAuditEntriesInOrder(database.current.pool)).filter((entry) => entry.job_id === jobId);
const setReleased = () => database.current.pool.query(sql.unsafe`UPDATE public.go_live_state SET kill_switch_engaged = false WHERE id = 1`);
const killSwitchEngaged = async () => (await readGovernanceRows(database.current.pool))!.goLive.kill_switch_engaged;
type AcceptanceRow = { seq: number; queue: string; job_name: string; actor: string; settled_at: string | null; settled_as: string | null; voided_at: string | null };
const acceptanceOf = async (jobId: string) =>
  (await database.current.pool.maybeOne(sql.unsafe`
    SELECT seq, queue, job_name, actor, settled_at, settled_as, voided_at FROM public.governance_accepted_jobs WHERE job_id = ${jobId}`)) as AcceptanceRow | null;

describe('engages and disables are applied in the request', () => {
  it('answers 200 with the result, never rate-limited; invalid requests and other writes use up the limit', async () => {
    const api = await startApi(database.current, { env: { RATE_LIMIT_PER_MINUTE: '3' } });
    try {
      const post = (url: string, payload: unknown) => api.app.inject({ method: 'POST', url, payload: payload as object, headers: bearer() });
      for (let i = 0; i < 10; i += 1) expect((await post('/api/governance/kill-switch', { engaged: 'yes', reason: '' })).statusCode).toBe(400);
      const releases = await Promise.all(Array.from({ length: 5 }, () => post('/api/governance/kill-switch', { engaged: false, reason: 'r' })));
      expect(releases.map((r) => r.statusCode).sort()).toEqual([202, 202, 202, 429, 429]);
      const enables = await Promise.all(Array.from({ length: 5 }, () => post('/api/governance/go-live', { enabled: true, reason: 'e' })));
      expect(enables.filter((r) => r.statusCode === 429).length).toBe(2);
      const jobIds: string[] = [];
      for (let i = 0; i < 20; i += 1) {
        for (const [url, payload] of [['/api/governance/kill-switch', engage], ['/api/governance/go-live', disable]] as const) {
          const answer = await post(url, payload);
          expect(answer.statusCode).toBe(200);
          expect(answer.json()).toMatchObject({ status: 'completed', result: { outcome: expect.stringMatching(/^(applied|unchanged)$/) } });
          jobIds.push(answer.json<{ jobId: string }>().jobId);
        }
      }
      // Applied in PostgreSQL, one audit entry each; nothing went through the safety lane.
      for (const jobId of jobIds) expect(await auditFor(jobId)).toHaveLength(1);
      expect(await api.queues.byName[QUEUES.governanceSafety].count()).toBe(0);
      expect(await killSwitchEngaged()).toBe(true);
    } finally {
      await api.close();
    }
  });

  it('a keyed repeat answers the same result; the same key with another request is 409', async () => {
    const api = await startApi(database.current);
    try {
      const post = (url: string, payload: object, key: string) =>
        api.app.inject({ method: 'POST', url, payload, headers: { ...bearer(), 'idempotency-key': key } });
      const first = await post('/api/governance/kill-switch', engage, 'engage-once');
      expect(first.statusCode).toBe(200);
      const again = await post('/api/governance/kill-switch', engage, 'engage-once');
      expect(again.statusCode).toBe(200);
      expect(again.headers['idempotent-replayed']).toBe('true');
      expect(again.json()).toEqual(first.json());
      const other = await post('/api/governance/go-live', disable, 'engage-once');
      expect(other.statusCode).toBe(409);
      expect(other.json().error.code).toBe('IDEMPOTENCY_CONFLICT');
      expect(await auditFor(first.json<{ jobId: string }>().jobId)).toHaveLength(1);
    } finally {
      await api.close();
    }
  });
});

describe('PostgreSQL is the record of every accepted change', () => {
  it('while Redis is down: engage and disable applied (200), other changes accepted (202) and applied once when Redis returns', async () => {
    await setReleased();
    const redis = await startOwnRedis();
    const api = await startApi(database.current, { redisUrl: () => redis.url });
    try {
      const post = (url: string, payload: object, headers: Record<string, string> = {}) =>
        api.app.inject({ method: 'POST', url, payload, headers: { ...bearer(), ...headers } });
      await redis.kill();

      const started = performance.now();
      const engaged = await post('/api/governance/kill-switch', engage, { 'idempotency-key': 'engage-while-down' });
      expect(performance.now() - started).toBeLessThan(1_000);
      expect(engaged.statusCode).toBe(200);
      const body = engaged.json<{ jobId: string; status: string; result: ChangeResult }>();
      expect(body).toMatchObject({ status: 'completed', result: { outcome: 'applied', action: 'kill_switch.engage' } });
      expect(await auditFor(body.jobId)).toEqual([expect.objectContaining({ id: body.result.auditId, outcome: 'applied', actor: 'alice' })]);
      const disabled = await post('/api/governance/go-live', disable);
      expect(disabled.statusCode).toBe(200);
      expect(disabled.json()).toMatchObject({ status: 'completed', result: { action: 'go_live.disable', outcome: 'unchanged' } });

      const accepted: string[] = [];
      for (const [url, payload] of [
        ['/api/governance/kill-switch', { engaged: false, reason: 'r' }],
        ['/api/governance/system-metadata', { notes: 'n', reason: 'm' }],
        ['/api/governance/verify', {}],
      ] as const) {
        const answer = await post(url, payload);
        expect(answer.statusCode, url).toBe(202);
        const { jobId } = answer.json<{ jobId: string }>();
        expect(await acceptanceOf(jobId)).toMatchObject({ settled_at: null, voided_at: null });
        // Known to PostgreSQL while Redis is away: waiting.
        const job = await api.app.inject({ method: 'GET', url: `/api/jobs/${jobId}`, headers: bearer() });
        expect(job.json()).toMatchObject({ id: jobId, state: 'waiting', attempts: 0 });
        accepted.push(jobId);
      }
      const health = await api.app.inject({ method: 'GET', url: '/health' });
      expect(health.statusCode).toBe(200);
      expect(health.json()).toMatchObject({ status: 'degraded', checks: { database: 'ok', redis: 'unavailable' } });
      const unknown = await api.app.inject({ method: 'GET', url: '/api/jobs/not-known-anywhere', headers: bearer() });
      expect(unknown.json().error.code).toBe('DEPENDENCY_UNAVAILABLE');

      await redis.restart();
      await waitFor(async () => api.redis.status === 'ready', { timeoutMs: 15_000, description: 'the api to reconnect to Redis' });
      const retried = await post('/api/governance/kill-switch', engage, { 'idempotency-key': 'engage-while-down' });
      expect(retried.json()).toEqual(body);
      const worker = await startInProcessWorker(database.current, api.prefix, { env: { REDIS_URL: redis.url }, app: FAST_RECONCILER });
      try {
        await waitFor(async () => {
          for (const jobId of accepted) if ((await acceptanceOf(jobId))?.settled_at === null) return false;
          return true;
        }, { timeoutMs: 15_000, description: 'the accepted changes to be enqueued by the reconciler and executed' });
      } finally {
        await worker.close();
      }
      expect(await auditFor(accepted[0]!)).toEqual([expect.objectContaining({ action: 'kill_switch.release', outcome: 'applied' })]);
      expect(await auditFor(accepted[1]!)).toEqual([expect.objectContaining({ action: 'metadata.update', outcome: 'applied' })]);
      const run = await database.current.pool.maybeOne(sql.unsafe`SELECT id FROM public.verification_runs WHERE job_id = ${accepted[2]!}`);
      expect(run).not.toBeNull();
    } finally {
      await api.close();
      await redis.stop();
    }
  });

  it('Redis restarted empty with 50 accepted, unapplied changes: every one applied exactly once after the workers reconnect', async () => {
    const redis = await startOwnRedis();
    const api = await startApi(database.current, { redisUrl: () => redis.url });
    try {
      const jobIds: string[] = [];
      for (let i = 0; i < 50; i += 1) {
        const [url, payload] =
          i % 3 === 0
            ? (['/api/governance/kill-switch', { engaged: i % 2 === 0, reason: `change ${i}` }] as const)
            : (['/api/governance/system-metadata', { notes: `note ${i}`, reason: `change ${i}` }] as const);
        const answer = await api.app.inject({ method: 'POST', url, payload, headers: { ...bearer(), 'idempotency-key': `lost-${i}` } });
        expect([200, 202]).toContain(answer.statusCode);
        if (answer.statusCode === 202) jobIds.push(answer.json<{ jobId: string }>().jobId);
      }
      expect(jobIds.length).toBeGreaterThan(35);
      // An enqueue that outlived the api's short deadline lands a little later.
      await waitFor(async () => (await api.jobCount()) === jobIds.length, { timeoutMs: 10_000, description: 'every accepted change in Redis' });
      // Redis loses everything (a restart without persistence, a failover to a replica that lagged, a flush).
      await redis.kill();
      await redis.restart();
      await waitFor(async () => api.redis.status === 'ready', { timeoutMs: 15_000, description: 'the api to reconnect to Redis' });
      expect(await api.jobCount()).toBe(0);

      const worker = await startInProcessWorker(database.current, api.prefix, { env: { REDIS_URL: redis.url }, app: FAST_RECONCILER });
      const started = performance.now();
      try {
        await waitFor(async () => {
          const open = await database.current.pool.oneFirst(sql.unsafe`
            SELECT count(*)::int FROM public.governance_accepted_jobs WHERE job_id = ANY(${sql.array(jobIds, 'text')}) AND settled_at IS NULL`);
          return open === 0;
        }, { timeoutMs: 15_000, description: 'every accepted change to be applied' });
        expect(performance.now() - started).toBeLessThan(10_000);
      } finally {
        await worker.close();
      }
      for (const jobId of jobIds) expect(await auditFor(jobId), jobId).toHaveLength(1);
      const reenqueued = await database.current.pool.oneFirst(sql.unsafe`
        SELECT count(*)::int FROM public.governance_accepted_jobs WHERE job_id = ANY(${sql.array(jobIds, 'text')}) AND enqueue_count >= 1`);
      expect(reenqueued).toBe(jobIds.length);
      // A repeat of any of them is answered from PostgreSQL with its one execution.
      const repeat = await api.app.inject({ method: 'POST', url: '/api/governance/system-metadata', payload: { notes: 'note 1', reason: 'change 1' }, headers: { ...bearer(), 'idempotency-key': 'lost-1' } });
      expect(repeat.statusCode).toBe(200);
      expect(repeat.json()).toMatchObject({ status: 'completed', result: { action: 'metadata.update' } });
    } finally {
      await api.close();
      await redis.stop();
    }
  });

  it('a healthy backlog is left alone: the reconciler enqueues nothing Redis still holds', async () => {
    const api = await startApi(database.current);
    try {
      const jobIds: string[] = [];
      for (let i = 0; i < 20; i += 1) {
        const answer = await api.app.inject({ method: 'POST', url: '/api/governance/system-metadata', payload: { notes: `n${i}`, reason: 'backlog' }, headers: bearer() });
        jobIds.push(answer.json<{ jobId: string }>().jobId);
      }
      // Only the reconciler runs (the governance queue is paused, so the changes stay waiting past the grace).
      await api.queues.byName[QUEUES.governance].pause();
      const worker = await startInProcessWorker(database.current, api.prefix, { app: { tuning: { reconcileIntervalMs: 100, reconcileGraceMs: 0 } } });
      try {
        // Three turns at least (each moves ran_at): the reconciler looked repeatedly and found every job in Redis.
        const turns = new Set<string>();
        await waitFor(async () => {
          const ranAt = await database.current.pool.maybeOneFirst(sql.unsafe`SELECT ran_at::text FROM public.governance_reconciler_turns`);
          if (typeof ranAt === 'string') turns.add(ranAt);
          return turns.size >= 3;
        }, { timeoutMs: 10_000, intervalMs: 20, description: 'three reconciler turns' });
        const counts = await database.current.pool.oneFirst(sql.unsafe`
          SELECT coalesce(sum(enqueue_count), 0)::int FROM public.governance_accepted_jobs WHERE job_id = ANY(${sql.array(jobIds, 'text')})`);
        expect(counts).toBe(0);
      } finally {
        await api.queues.byName[QUEUES.governance].resume();
        await worker.close();
      }
    } finally {
      await api.close();
    }
  });

  it('Redis frozen: the enqueue times out, the change is still accepted (202) and applied once when Redis resumes', async () => {
    const redis = await startOwnRedis();
    const api = await startApi(database.current, { redisUrl: () => redis.url });
    const producer = createProducer(api.prefix, redis.url);
    try {
      redis.freeze();
      const started = performance.now();
      const release = await api.app.inject({ method: 'POST', url: '/api/governance/kill-switch', payload: { engaged: false, reason: 'while frozen' }, headers: bearer() });
      expect(performance.now() - started).toBeLessThan(2_000);
      expect(release.statusCode).toBe(202);
      const { jobId } = release.json<{ jobId: string }>();
      redis.resume();
      const worker = await startInProcessWorker(database.current, api.prefix, { env: { REDIS_URL: redis.url }, app: FAST_RECONCILER });
      try {
        expect((await waitForJob(producer, jobId)).state).toBe('completed');
        await waitFor(async () => (await acceptanceOf(jobId))?.settled_at !== null, { timeoutMs: 10_000, description: 'settled' });
      } finally {
        await worker.close();
      }
      expect(await auditFor(jobId)).toEqual([expect.objectContaining({ action: 'kill_switch.release', outcome: 'applied' })]);
    } finally {
      redis.resume();
      await producer.close();
      await api.close();
      await redis.stop();
    }
  });

  it('starts and serves engages while Redis has never been reachable', async () => {
    const port = await freePort();
    const api = await startApi(database.current, { redisUrl: () => `redis://127.0.0.1:${port}` });
    try {
      expect((await api.app.inject({ method: 'GET', url: '/health' })).json()).toMatchObject({ status: 'degraded' });
      const started = performance.now();
      const engaged = await api.app.inject({ method: 'POST', url: '/api/governance/kill-switch', payload: engage, headers: bearer() });
      expect(performance.now() - started).toBeLessThan(1_000);
      expect(engaged.statusCode).toBe(200);
    } finally {
      await api.close();
    }
  });

  /**
   * An api whose acceptance statements for the reason 'stall me' stall 1 s in PostgreSQL, reaching it through a proxy
   * the test cuts: the statement goes on and commits while the api's connection is gone, and the api cannot know.
   */
  const apiWithStallingAcceptances = async () => {
    await database.current.pool.query(sql.unsafe`
      CREATE FUNCTION public.test_stall_acceptance() RETURNS trigger LANGUAGE plpgsql AS $$
      BEGIN
        IF NEW.payload->>'reason' = 'stall me' THEN PERFORM pg_sleep(1); END IF;
        RETURN NEW;
      END $$`);
    await database.current.pool.query(sql.unsafe`
      CREATE TRIGGER test_stall_acceptance BEFORE INSERT ON public.governance_accepted_jobs
      FOR EACH ROW EXECUTE FUNCTION public.test_stall_acceptance()`);
    const target = new URL(database.current.url);
    const upstream = { host: target.hostname, port: Number(target.port || 5432) };
    let proxy = await startTcpProxy(upstream);
    const proxyPort = proxy.port;
    const viaProxy = databaseUrlFor(adminDatabaseUrl(), database.current.name).replace(`:${target.port || 5432}/`, `:${proxyPort}/`);
    const pool = await createDatabasePool({ connectionUri: viaProxy, maxPoolSize: 3, applicationName: 'acceptance-test' });
    const api = await startApi({ ...database.current, url: viaProxy, pool });
    return {
      api,
      /** Posts a release whose acceptance stalls; resolves once the statement is stalling in PostgreSQL, with the answer to come. */
      postStalled: async () => {
        const pending = api.app.inject({ method: 'POST', url: '/api/governance/kill-switch', payload: { engaged: false, reason: 'stall me' }, headers: bearer() });
        await waitFor(async () => Number(await database.current.pool.oneFirst(sql.unsafe`
          SELECT count(*)::int FROM pg_stat_activity WHERE query LIKE '%governance_accepted_jobs%' AND wait_event = 'PgSleep'`)) > 0,
        { timeoutMs: 5_000, description: 'the acceptance statement to stall' });
        return { answer: pending };
      },
      cut: () => proxy.cut(),
      restore: async () => {
        proxy = await startTcpProxy(upstream, proxyPort);
      },
      /** The job id a 503 names as void. */
      voidJobId: (message: string) => /job (\S+) is void/.exec(message)?.[1] ?? '',
      /** A reconciler turn of a worker that would enqueue the job again if its record were not void. */
      reconcileOnce: async () => {
        const worker = await startInProcessWorker(database.current, api.prefix, { app: { tuning: { reconcileIntervalMs: 100, reconcileGraceMs: 0 } } });
        try {
          await waitFor(async () => (await database.current.pool.oneFirst(sql.unsafe`
            SELECT count(*)::int FROM public.governance_reconciler_turns`)) === 1, { timeoutMs: 5_000, description: 'a reconciler turn' });
        } finally {
          await worker.close();
        }
      },
      close: async () => {
        await api.close();
        await pool.end();
        await proxy.cut();
      },
    };
  };

  it('a write whose acceptance PostgreSQL may have committed, unconfirmed: 503, voided, never applied', async () => {
    const stalled = await apiWithStallingAcceptances();
    try {
      const pending = await stalled.postStalled();
      await stalled.cut();
      await stalled.restore();
      const answer = await pending.answer;
      expect(answer.statusCode).toBe(503);
      const { message } = answer.json<{ error: { code: string; message: string } }>().error;
      expect(message).toMatch(/never will be/);
      const jobId = stalled.voidJobId(message);
      // The stalled statement committed afterwards, or lost the race to the void: either way the record is void.
      await waitFor(async () => (await acceptanceOf(jobId))?.voided_at != null, { timeoutMs: 5_000, description: 'the void record' });
      await stalled.reconcileOnce();
      expect(await auditFor(jobId)).toEqual([]);
      expect(await acceptanceOf(jobId)).toMatchObject({ settled_at: null });
      const job = await stalled.api.app.inject({ method: 'GET', url: `/api/jobs/${jobId}`, headers: bearer() });
      expect(job.json()).toMatchObject({ state: 'failed', error: { code: 'ENQUEUE_UNCONFIRMED', final: true } });
    } finally {
      await stalled.close();
    }
  });

  it('the same while PostgreSQL stays unreachable: the api waits for it to void the job before it answers 503', async () => {
    // Found by the fault run: answered at once, the 503 left an open acceptance that the reconciler ran once the
    // database was back (a 503 applied later).
    const stalled = await apiWithStallingAcceptances();
    try {
      let answered = false;
      const pending = await stalled.postStalled();
      void pending.answer.then(() => {
        answered = true;
      });
      await stalled.cut();
      // The statement commits in PostgreSQL while the api cannot reach it: nothing can void it yet.
      await waitFor(async () => Number(await database.current.pool.oneFirst(sql.unsafe`
        SELECT count(*)::int FROM public.governance_accepted_jobs WHERE payload->>'reason' = 'stall me' AND voided_at IS NULL`)) === 1,
      { timeoutMs: 5_000, description: 'the unconfirmed acceptance to commit' });
      expect(answered).toBe(false);
      await stalled.restore();
      const answer = await pending.answer;
      expect(answer.statusCode).toBe(503);
      const { message } = answer.json<{ error: { code: string; message: string } }>().error;
      expect(message).toMatch(/never will be/);
      const jobId = stalled.voidJobId(message);
      expect(await acceptanceOf(jobId)).toMatchObject({ voided_at: expect.any(String) });
      await stalled.reconcileOnce();
      expect(await auditFor(jobId)).toEqual([]);
    } finally {
      await stalled.close();
    }
  });
});

describe('one order for everything the api accepts', () => {
  it('an engage applied in the request supersedes 200 releases waiting in Redis; the kill switch stays engaged', async () => {
    await setReleased();
    const api = await startApi(database.current);
    const producer = createProducer(api.prefix);
    try {
      // Accepted through the api and added straight to the queue by another producer: both kinds are older.
      const viaApi: string[] = [];
      for (let i = 0; i < 100; i += 1) {
        const answer = await api.app.inject({ method: 'POST', url: '/api/governance/kill-switch', payload: { engaged: false, reason: `release ${i}` }, headers: bearer() });
        viaApi.push(answer.json<{ jobId: string }>().jobId);
      }
      const direct = await Promise.all(Array.from({ length: 100 }, (_, i) => producer.change({ action: 'kill_switch.release', actor: 'ops:b', reason: `direct release ${i}` })));
      const engaged = await api.app.inject({ method: 'POST', url: '/api/governance/kill-switch', payload: engage, headers: bearer() });
      expect(engaged.statusCode).toBe(200);
      const worker = await startInProcessWorker(database.current, api.prefix, { env: { WORKER_CONCURRENCY: '16' } });
      try {
        await waitForGovernanceJobs(producer, 200);
        for (const id of [...viaApi.slice(0, 3), ...direct.slice(0, 3)]) {
          expect(decodeJobFailure((await waitForJob(producer, id)).failedReason ?? '')).toMatchObject({ code: 'SUPERSEDED', final: true });
        }
        const audit = await listAuditEntriesInOrder(database.current.pool);
        const releases = audit.filter((entry) => [...viaApi, ...direct].includes(entry.job_id!));
        expect(releases).toHaveLength(200);
        expect(releases.every((entry) => entry.outcome === 'rejected' && entry.unmet_conditions.includes('not_superseded'))).toBe(true);
        expect(await killSwitchEngaged()).toBe(true);
      } finally {
        await worker.close();
      }
    } finally {
      await producer.close();
      await api.close();
    }
  });
});
