import { describe, expect, it } from 'vitest';
import { QUEUES, decodeJobFailure, listAuditEntriesInOrder, readGovernanceRows, sql, type ChangeResult } from '../../packages/core/src/index.js';
import { useTestDatabase } from '../helpers/database.js';
import { freePort, startOwnRedis } from '../helpers/redisServer.js';
import { waitFor } from '../helpers/waitFor.js';
import { createProducer, startInProcessWorker, waitForGovernanceJobs, waitForJob } from '../worker/support/workerHarness.js';
import { bearer, startApi } from './support.js';
import { startTcpProxy } from './tcpProxy.js';

const database = useTestDatabase({ poolSize: 5 });

const engage = { engaged: true, reason: 'incident' };
const disable = { enabled: false, reason: 'pause' };

const auditFor = async (jobId: string) =>
  (await listAuditEntriesInOrder(database.current.pool)).filter((entry) => entry.job_id === jobId);
const setReleased = () => database.current.pool.query(sql.unsafe`UPDATE public.go_live_state SET kill_switch_engaged = false WHERE id = 1`);
const killSwitchEngaged = async () => (await readGovernanceRows(database.current.pool))!.goLive.kill_switch_engaged;

describe('rate limits never refuse an engage or a disable', () => {
  it('invalid requests, releases and other writes use up the limit; engages and disables still answer 202', async () => {
    const api = await startApi(database.current, { env: { RATE_LIMIT_PER_MINUTE: '3' } });
    try {
      const post = (url: string, payload: unknown) => api.app.inject({ method: 'POST', url, payload: payload as object, headers: bearer() });
      for (let i = 0; i < 10; i += 1) expect((await post('/api/governance/kill-switch', { engaged: 'yes', reason: '' })).statusCode).toBe(400);
      const releases = await Promise.all(Array.from({ length: 5 }, () => post('/api/governance/kill-switch', { engaged: false, reason: 'r' })));
      expect(releases.map((r) => r.statusCode).sort()).toEqual([202, 202, 202, 429, 429]);
      const verifies = await Promise.all(Array.from({ length: 5 }, () => post('/api/governance/verify', {})));
      expect(verifies.filter((r) => r.statusCode === 429).length).toBeGreaterThan(0);
      const enables = await Promise.all(Array.from({ length: 5 }, () => post('/api/governance/go-live', { enabled: true, reason: 'e' })));
      expect(enables.filter((r) => r.statusCode === 429).length).toBe(2);
      for (let i = 0; i < 20; i += 1) {
        expect((await post('/api/governance/kill-switch', engage)).statusCode).toBe(202);
        expect((await post('/api/governance/go-live', disable)).statusCode).toBe(202);
      }
      // And they went to the safety lane.
      expect(await api.queues.byName[QUEUES.governanceSafety].getJobCountByTypes('prioritized', 'wait')).toBe(40);
    } finally {
      await api.close();
    }
  });
});

describe('break-glass while Redis is unavailable', () => {
  it('applies engage and disable in PostgreSQL once (200 completed), refuses the other changes, and nothing applies twice after Redis returns', async () => {
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
      expect(await killSwitchEngaged()).toBe(true);

      const disabled = await post('/api/governance/go-live', disable);
      expect(disabled.statusCode).toBe(200);
      expect(disabled.json()).toMatchObject({ status: 'completed', result: { action: 'go_live.disable', outcome: 'unchanged' } });

      for (const [url, payload] of [
        ['/api/governance/kill-switch', { engaged: false, reason: 'r' }],
        ['/api/governance/go-live', { enabled: true, reason: 'e' }],
        ['/api/governance/system-metadata', { notes: 'n', reason: 'm' }],
      ] as const) {
        const refused = await post(url, payload);
        expect(refused.statusCode, url).toBe(503);
        expect(refused.json().error.code).toBe('DEPENDENCY_UNAVAILABLE');
      }
      const health = await api.app.inject({ method: 'GET', url: '/health' });
      expect(health.statusCode).toBe(200);
      expect(health.json()).toEqual({ status: 'degraded', checks: { database: 'ok', redis: 'unavailable' }, release: expect.any(String), paused_queues: null });
      // Jobs that executed are answered from PostgreSQL meanwhile; one it does not know is 503 (Redis may have it).
      const job = await api.app.inject({ method: 'GET', url: `/api/jobs/${body.jobId}`, headers: bearer() });
      expect(job.statusCode).toBe(200);
      expect(job.json()).toMatchObject({ id: body.jobId, state: 'completed', result: { auditId: body.result.auditId } });
      const unknown = await api.app.inject({ method: 'GET', url: '/api/jobs/not-executed-anywhere', headers: bearer() });
      expect(unknown.statusCode).toBe(503);
      expect(unknown.json().error.code).toBe('DEPENDENCY_UNAVAILABLE');

      // Redis is back: a retry with the same key is answered from PostgreSQL with the same result, and the same job
      // reaching the queue late (an enqueue that timed out but landed) replays the stored result in the worker.
      await redis.restart();
      await waitFor(async () => api.redis.status === 'ready', { timeoutMs: 15_000, description: 'the api to reconnect to Redis' });
      const retried = await post('/api/governance/kill-switch', engage, { 'idempotency-key': 'engage-while-down' });
      expect(retried.statusCode).toBe(200);
      expect(retried.json()).toEqual(body);
      const worker = await startInProcessWorker(database.current, api.prefix, { env: { REDIS_URL: redis.url } });
      const producer = createProducer(api.prefix, redis.url);
      await producer.queues.enqueue('go-live-change', { action: 'kill_switch.engage', actor: 'alice', reason: 'incident' }, { jobId: body.jobId });
      try {
        const outcome = await waitForJob(producer, body.jobId);
        expect(outcome.state).toBe('completed');
        expect((outcome.returnvalue as ChangeResult).auditId).toBe(body.result.auditId);
        expect(await auditFor(body.jobId)).toHaveLength(1);
      } finally {
        await producer.close();
        await worker.close();
      }
    } finally {
      await api.close();
      await redis.stop();
    }
  });

  it('never applies a change it answered 503 for, though the enqueue reaches Redis when it recovers', async () => {
    const redis = await startOwnRedis();
    const api = await startApi(database.current, { redisUrl: () => redis.url });
    const producer = createProducer(api.prefix, redis.url);
    try {
      const post = (url: string, payload: object, headers: Record<string, string> = {}) =>
        api.app.inject({ method: 'POST', url, payload, headers: { ...bearer(), ...headers } });
      expect(await killSwitchEngaged()).toBe(true);
      const ready = () => waitFor(async () => api.redis.status === 'ready', { timeoutMs: 15_000, description: 'the api connected to Redis' });
      // Frozen, not down: the connection is ready and the enqueue is written to the socket, then times out.
      // With a key the client can ask again: the 503 says so, and nothing is voided.
      redis.freeze();
      const keyed = await post('/api/governance/system-metadata', { notes: 'keyed while frozen', reason: 'm' }, { 'idempotency-key': 'metadata-while-frozen' });
      expect(keyed.statusCode).toBe(503);
      expect(keyed.json().error).toMatchObject({ code: 'DEPENDENCY_UNAVAILABLE', message: expect.stringMatching(/same Idempotency-Key/) });
      redis.resume();
      await ready();

      redis.freeze();
      const release = await post('/api/governance/kill-switch', { engaged: false, reason: 'answered 503' });
      expect(release.statusCode).toBe(503);
      const refusal = release.json<{ error: { code: string; message: string } }>().error;
      expect(refusal).toMatchObject({ code: 'DEPENDENCY_UNAVAILABLE', message: expect.stringMatching(/not applied and never will be/) });
      const voidedJobId = /job (\S+) is void/.exec(refusal.message)?.[1] ?? '';
      expect(await auditFor(voidedJobId)).toEqual([expect.objectContaining({ action: 'kill_switch.release', outcome: 'rejected', unmet_conditions: ['enqueue_confirmed'] })]);

      redis.resume();
      const worker = await startInProcessWorker(database.current, api.prefix, { env: { REDIS_URL: redis.url } });
      try {
        // Both enqueues ran when Redis resumed: the voided release fails as such, the keyed change applies.
        const voided = await waitForJob(producer, voidedJobId);
        expect(voided.state).toBe('failed');
        expect(voided.failure).toMatchObject({ code: 'ENQUEUE_UNCONFIRMED', final: true });
        const asked = await waitFor(async () => {
          const again = await post('/api/governance/system-metadata', { notes: 'keyed while frozen', reason: 'm' }, { 'idempotency-key': 'metadata-while-frozen' });
          return again.statusCode === 200 ? again.json<{ status: string; result: ChangeResult }>() : false;
        }, { timeoutMs: 15_000, description: 'the keyed change applied and answered from PostgreSQL' });
        expect(asked).toMatchObject({ status: 'completed', result: { action: 'metadata.update', outcome: 'applied' } });
      } finally {
        await worker.close();
      }
      expect(await killSwitchEngaged()).toBe(true);
      expect(await auditFor(voidedJobId)).toHaveLength(1);
      const job = await api.app.inject({ method: 'GET', url: `/api/jobs/${voidedJobId}`, headers: bearer() });
      expect(job.json()).toMatchObject({ state: 'failed', error: { code: 'ENQUEUE_UNCONFIRMED' } });
    } finally {
      redis.resume();
      await producer.close();
      await api.close();
      await redis.stop();
    }
  });

  it('starts and serves engages while Redis has never been reachable', async () => {
    // A free port nothing listens on: every connection attempt is refused.
    const port = await freePort();
    const api = await startApi(database.current, { redisUrl: () => `redis://127.0.0.1:${port}` });
    try {
      const health = await api.app.inject({ method: 'GET', url: '/health' });
      expect(health.json()).toMatchObject({ status: 'degraded' });
      const started = performance.now();
      const engaged = await api.app.inject({ method: 'POST', url: '/api/governance/kill-switch', payload: engage, headers: bearer() });
      expect(performance.now() - started).toBeLessThan(1_000);
      expect(engaged.statusCode).toBe(200);
    } finally {
      await api.close();
    }
  });

  it('after a break-glass engage, 200 releases waiting in Redis are superseded and the kill switch stays engaged', async () => {
    await setReleased();
    const redis = await startOwnRedis();
    let proxy = await startTcpProxy({ host: '127.0.0.1', port: redis.port });
    const proxyPort = proxy.port;
    const api = await startApi(database.current, { redisUrl: () => `redis://127.0.0.1:${proxyPort}` });
    const producer = createProducer(api.prefix, redis.url);
    try {
      const releases = await Promise.all(
        Array.from({ length: 200 }, (_, i) => producer.change({ action: 'kill_switch.release', actor: 'ops:b', reason: `release ${i}` })),
      );
      await proxy.cut();
      const engaged = await api.app.inject({ method: 'POST', url: '/api/governance/kill-switch', payload: engage, headers: bearer() });
      expect(engaged.statusCode).toBe(200);
      proxy = await startTcpProxy({ host: '127.0.0.1', port: redis.port }, proxyPort);

      const worker = await startInProcessWorker(database.current, api.prefix, { env: { REDIS_URL: redis.url, WORKER_CONCURRENCY: '16' } });
      try {
        await waitForGovernanceJobs(producer, 200);
        for (const id of releases.slice(0, 5)) expect(decodeJobFailure((await waitForJob(producer, id)).failedReason ?? '')).toMatchObject({ code: 'SUPERSEDED', final: true });
        const audit = await listAuditEntriesInOrder(database.current.pool);
        expect(audit.filter((e) => releases.includes(e.job_id!)).every((e) => e.outcome === 'rejected' && e.unmet_conditions.includes('not_superseded'))).toBe(true);
        expect(await killSwitchEngaged()).toBe(true);
      } finally {
        await worker.close();
      }
    } finally {
      await producer.close();
      await api.close();
      await proxy.cut();
      await redis.stop();
    }
  });
});

