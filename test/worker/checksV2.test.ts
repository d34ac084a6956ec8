import { createServer, type Server, type Socket } from 'node:net';
import { createServer as createHttpServer, type Server as HttpServer } from 'node:http';
import { Redis } from 'ioredis';
import { describe, expect, it } from 'vitest';
import { loadConfig, sql, upsertWorkerHeartbeat } from '../../packages/core/src/index.js';
import {
  checkLiveWorker,
  checkRedisEvictionPolicy,
  checkReleaseSkew,
  checkRunbookStatus,
  checkApiHealth,
  type CheckPolicy,
} from '../../apps/worker/src/index.js';
import { track } from '../helpers/leaks.js';
import { startOwnRedis } from '../helpers/redisServer.js';
import { useTestDatabase } from '../helpers/database.js';
import { startInProcessWorker, useWorkerFixture, waitForJob } from './support/workerHarness.js';

const database = useTestDatabase();
const fixture = useWorkerFixture('checks-v2');
const POLICY: CheckPolicy = { count: 2, intervalMs: 20, failureLimit: 0 };
const PROBE = { count: 3, intervalMs: 20, failureLimit: 2, timeoutMs: 300 };

/** An HTTP server answering JSON from `answer` (status, body), or dropping the connection when it returns null. */
const startJsonServer = async (answer: (path: string) => { status: number; body: unknown } | null) => {
  const server: HttpServer = createHttpServer((request, response) => {
    const reply = answer(request.url ?? '/');
    if (reply === null) {
      request.socket.destroy();
      return;
    }
    response.writeHead(reply.status, { 'content-type': 'application/json' }).end(JSON.stringify(reply.body));
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const close = () => new Promise<void>((resolve) => { server.closeAllConnections(); server.close(() => resolve()); });
  return track({ url: `http://127.0.0.1:${(server.address() as { port: number }).port}`, close }, { description: 'json server', isOpen: () => server.listening, close });
};

/** A TCP server that accepts connections and never answers. */
const startSilentServer = async () => {
  const sockets: Socket[] = [];
  const server: Server = createServer((socket) => sockets.push(socket));
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const close = () => new Promise<void>((resolve) => { for (const s of sockets) s.destroy(); server.close(() => resolve()); });
  return track({ url: `http://127.0.0.1:${(server.address() as { port: number }).port}`, close }, { description: 'silent server', isOpen: () => server.listening, close });
};

describe('checks v2', () => {
  it('redis eviction policy: noeviction passes, allkeys-lru fails naming it (read from INFO)', async () => {
    const own = await startOwnRedis();
    const redis = new Redis(own.url, { maxRetriesPerRequest: 1 });
    expect(await checkRedisEvictionPolicy(redis, POLICY)).toMatchObject({ status: 'passed' });
    await redis.config('SET', 'maxmemory-policy', 'allkeys-lru');
    const failed = await checkRedisEvictionPolicy(redis, POLICY);
    expect(failed).toMatchObject({ status: 'failed' });
    expect(failed.detail).toMatch(/maxmemory_policy is allkeys-lru/);
    redis.disconnect();
    await own.stop();
  });

  it('live worker: no heartbeat of the release fails, naming the releases that are alive; a fresh heartbeat passes', async () => {
    const db = database.current.pool;
    await db.query(sql.unsafe`DELETE FROM public.worker_heartbeats`);
    expect(await checkLiveWorker(db, 'r2', 30_000, POLICY)).toMatchObject({ status: 'failed', detail: expect.stringMatching(/no heartbeat of release r2/) });
    await upsertWorkerHeartbeat(db, { workerId: 'old', release: 'r1', pid: 1, hostname: 'h', startedAt: new Date() });
    expect((await checkLiveWorker(db, 'r2', 30_000, POLICY)).detail).toMatch(/live releases: r1/);
    await upsertWorkerHeartbeat(db, { workerId: 'new', release: 'r2', pid: 2, hostname: 'h', startedAt: new Date() });
    expect(await checkLiveWorker(db, 'r2', 30_000, POLICY)).toMatchObject({ status: 'passed' });
  });

  it('release skew: the api reporting another release fails; the same passes', async () => {
    let release = 'r1';
    const api = await startJsonServer(() => ({ status: 200, body: { status: 'ok', release } }));
    expect(await checkReleaseSkew(api.url, 'r1', PROBE)).toMatchObject({ status: 'passed' });
    release = 'r0';
    expect(await checkReleaseSkew(api.url, 'r1', PROBE)).toMatchObject({ status: 'failed', detail: expect.stringMatching(/api runs release r0, this worker r1/) });
    await api.close();
  });

  it('a flaky probe that answers on retry passes; one that never answers is inconclusive', async () => {
    let calls = 0;
    const flaky = await startJsonServer(() => (++calls <= 2 ? null : { status: 200, body: {} }));
    const passed = await checkApiHealth(flaky.url, { tries: 3, retryDelayMs: 20, timeoutMs: 300 });
    expect(passed).toMatchObject({ status: 'passed', detail: expect.stringMatching(/measurement 3 of 3/) });
    await flaky.close();

    const silent = await startSilentServer();
    const inconclusive = await checkApiHealth(silent.url, { tries: 2, retryDelayMs: 20, timeoutMs: 200 });
    expect(inconclusive).toMatchObject({ status: 'inconclusive', detail: expect.stringMatching(/could not measure/) });
    await silent.close();
  });

  it('runbook status: 200 with row 1 and this head passes; a refused token fails; another head fails', async () => {
    let answer = { status: 200, body: { go_live_state: { id: 1 }, system_metadata: { id: 1 }, migrations: { head: 'h1' } } as unknown };
    const api = await startJsonServer((path) => (path === '/api/governance/runbook/status' ? answer : { status: 404, body: {} }));
    expect(await checkRunbookStatus(api.url, 'token', 'h1', PROBE)).toMatchObject({ status: 'passed' });
    expect(await checkRunbookStatus(api.url, 'token', 'h2', PROBE)).toMatchObject({ status: 'failed', detail: expect.stringMatching(/head h1, this worker h2/) });
    answer = { status: 401, body: {} };
    expect(await checkRunbookStatus(api.url, 'token', 'h1', PROBE)).toMatchObject({ status: 'failed', detail: expect.stringMatching(/answered 401/) });
    await api.close();
  });

  it('API_URL accepts host:port (Render fromService hostport) as http://host:port', () => {
    expect(loadConfig({ API_URL: 'valhalla-api:10000' }, 'worker').apiUrl).toBe('http://valhalla-api:10000');
    expect(loadConfig({ API_URL: 'https://api.example.com/' }, 'worker').apiUrl).toBe('https://api.example.com');
    expect(() => loadConfig({ API_URL: 'not a url' }, 'worker')).toThrow(/API_URL.*URL or host:port/);
  });

  it('go_live.enable is refused while the latest run for the head has an inconclusive check', async () => {
    const { database: db, prefix, producer } = fixture.current;
    const silent = await startSilentServer();
    const worker = await startInProcessWorker(db, prefix, { env: { API_URL: silent.url }, app: { apiHealth: { tries: 1, timeoutMs: 200 } } });
    for (const payload of [
      { action: 'kill_switch.release', actor: 'ops', reason: 'checked' },
      { action: 'metadata.update', actor: 'ops', reason: 'done', metadata: { backend_complete: true } },
    ] as const) {
      expect((await waitForJob(producer, await producer.change(payload))).state).toBe('completed');
    }
    const verify = await producer.queues.enqueue('migration-verify', { actor: 'ops' });
    const run = await waitForJob(producer, verify.id as string);
    expect(run.returnvalue).toMatchObject({ passed: false, outcome: 'inconclusive' });
    const enable = await waitForJob(producer, await producer.change({ action: 'go_live.enable', actor: 'ops', reason: 'launch' }));
    expect(enable.state).toBe('failed');
    expect(enable.failedReason).toMatch(/PRECONDITION_FAILED.*verification_passed/);
    await worker.close();
    await silent.close();
  });
});
