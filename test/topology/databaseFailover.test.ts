import { describe, expect, it } from 'vitest';
import { sql } from '../../packages/core/src/index.js';
import { startApiProcess } from '../api/processes.js';
import { ALICE } from '../api/support.js';
import { startTcpProxy } from '../api/tcpProxy.js';
import { adminQuery, useTestDatabase } from '../helpers/database.js';
import { testRedisUrl, uniqueQueuePrefix } from '../helpers/redis.js';
import { waitFor } from '../helpers/waitFor.js';
import { openSse } from '../live/sseClient.js';
import { startWorkerProcess, workerEnv } from '../worker/support/workerHarness.js';
import { expectEachExecutedOnce, getJson, postJson } from './support.js';

const database = useTestDatabase({ poolSize: 2 });

describe('PostgreSQL restarted or replaced under a running product', () => {
  it('every session terminated and the address refusing for a while: 503 meanwhile, then the pools and the live listener recover without a restart', async () => {
    const pool = database.current.pool;
    // The product reaches PostgreSQL through a proxy the test can make refuse, as an address does while a managed
    // database fails over to its standby (the old primary gone, the name not yet pointing at the new one).
    const direct = new URL(database.current.url);
    const upstream = { host: direct.hostname, port: Number(direct.port || 5432) };
    let proxy = await startTcpProxy(upstream);
    const proxied = new URL(database.current.url);
    proxied.port = String(proxy.port);
    const prefix = uniqueQueuePrefix('pg-failover');
    const small = { DATABASE_POOL_SIZE: '3' };
    const api = await startApiProcess({ databaseUrl: proxied.toString(), redisUrl: testRedisUrl(), prefix, extra: { ...small, RATE_LIMIT_PER_MINUTE: '100000' } });
    const worker = await startWorkerProcess(workerEnv({ ...database.current, url: proxied.toString() }, prefix, small));
    const pids = [api.process.child.pid, worker.child.pid];
    const stream = await openSse(`${api.url}/api/governance/stream`, { token: ALICE.token });
    const jobIds: string[] = [];
    try {
      expect((await getJson(api.url, '/health', {})).body).toMatchObject({ status: 'ok', checks: { database: 'ok', redis: 'ok' } });
      const before = await postJson(api.url, '/api/governance/system-metadata', { notes: 'before the failover', reason: 'before' });
      expect(before.status).toBe(202);
      jobIds.push(String(before.body.jobId));
      await expectEachExecutedOnce(pool, jobIds);
      await stream.waitForEvents(2);

      // The failover: the address refuses, and every session of the product's database is terminated.
      await proxy.cut();
      await adminQuery(`SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE datname = '${database.current.name}' AND pid <> pg_backend_pid()`);

      // Meanwhile: /health answers 503 naming the database (the contract: PostgreSQL down), the live state is served
      // from memory with its age, an engage is queued for later, and other writes are refused.
      const down = await waitFor(async () => {
        const health = await getJson(api.url, '/health', {});
        return health.status === 503 && health;
      }, { timeoutMs: 15_000, description: '/health 503' });
      expect(down.body).toMatchObject({ status: 'unavailable', checks: { database: 'unavailable', redis: 'ok' } });
      const live = await fetch(`${api.url}/api/governance/live`, { headers: { authorization: `Bearer ${ALICE.token}` } });
      expect(live.status).toBe(200);
      expect(Number(live.headers.get('x-live-state-age-ms'))).toBeGreaterThan(0);
      const engage = await postJson(api.url, '/api/governance/kill-switch', { engaged: true, reason: 'during the failover' });
      expect(engage.status).toBe(202);
      expect(engage.body).toMatchObject({ status: 'queued' });
      jobIds.push(String(engage.body.jobId));
      const refused = await postJson(api.url, '/api/governance/system-metadata', { notes: 'during', reason: 'during the failover' });
      expect(refused.status).toBe(503);
      expect(refused.body).toMatchObject({ error: { code: 'DEPENDENCY_UNAVAILABLE' } });

      // The new primary answers at the same address.
      proxy = await startTcpProxy(upstream, proxy.port);
      await waitFor(async () => (await getJson(api.url, '/health', {})).status === 200, { timeoutMs: 30_000, description: '/health 200 again' });
      expect((await getJson(api.url, '/health', {})).body).toMatchObject({ status: 'ok', checks: { database: 'ok', redis: 'ok' } });
      // The engage queued meanwhile is applied the moment the worker reaches the database; new changes work.
      const after = await postJson(api.url, '/api/governance/system-metadata', { notes: 'after the failover', reason: 'after' });
      expect(after.status).toBe(202);
      jobIds.push(String(after.body.jobId));
      await expectEachExecutedOnce(pool, jobIds, 60_000);
      expect(await pool.oneFirst(sql.unsafe`SELECT kill_switch_engaged FROM public.go_live_state WHERE id = 1`)).toBe(true);
      // The live listener is back: the stream, open all along, has the newest state.
      const version = String(await pool.oneFirst(sql.unsafe`SELECT public.governance_live_state()->>'etag'`));
      await waitFor(() => stream.events.at(-1)?.id === version, { timeoutMs: 20_000, description: `the stream to reach version ${version}` });
      expect(stream.isEnded()).toBe(false);
      const sessions = await adminQuery(`SELECT application_name FROM pg_stat_activity WHERE datname = '${database.current.name}' AND application_name = 'valhalla-api-live'`);
      expect(sessions.rowCount).toBe(1);
      // Nothing was restarted.
      expect([api.process.child.pid, worker.child.pid]).toEqual(pids);
      expect(api.process.child.exitCode).toBeNull();
      expect(worker.child.exitCode).toBeNull();
    } finally {
      await stream.close();
      await worker.stop('SIGTERM', 20_000);
      await api.process.stop('SIGTERM', 20_000);
      await proxy.cut();
    }
  });
});
