import { describe, expect, it } from 'vitest';
import { createDatabasePool, createLogger } from '../../packages/core/src/index.js';
import { createMigrator } from '../../packages/core/src/migrator/index.js';
import { MIGRATIONS_DIR } from '../helpers/globalSetup.js';
import { buildServer } from '../../apps/api/src/index.js';
import { useTestDatabase } from '../helpers/database.js';
import { startOwnRedis } from '../helpers/redisServer.js';
import { startTcpProxy } from './tcpProxy.js';
import { waitFor } from '../helpers/waitFor.js';
import { bearer, startApi } from './support.js';

const database = useTestDatabase({ poolSize: 5 });

// A release: queued work (engages and disables are applied in the request, test/api/acceptance.test.ts).
const killSwitch = { engaged: false, reason: 'resolved' };

describe('when Redis is down', () => {
  it('POST is accepted into PostgreSQL fast (202), /health stays 200 degraded naming redis, and both recover when Redis is back', async () => {
    const redis = await startOwnRedis();
    const api = await startApi(database.current, { redisUrl: () => redis.url });
    try {
      const post = () => api.app.inject({ method: 'POST', url: '/api/governance/kill-switch', payload: killSwitch, headers: bearer() });
      expect((await post()).statusCode).toBe(202);

      await redis.kill();
      const started = Date.now();
      const accepted = await post();
      expect(Date.now() - started).toBeLessThan(3_000);
      expect(accepted.statusCode).toBe(202);
      expect(accepted.body).not.toMatch(/ECONNREFUSED|stack|ioredis/i);

      const keyed = await api.app.inject({
        method: 'POST',
        url: '/api/governance/verify',
        payload: {},
        headers: { ...bearer(), 'idempotency-key': 'while-down' },
      });
      expect(keyed.statusCode).toBe(202);

      const healthStarted = Date.now();
      const health = await api.app.inject({ method: 'GET', url: '/health' });
      expect(Date.now() - healthStarted).toBeLessThan(3_000);
      expect(health.statusCode).toBe(200);
      expect(health.json()).toEqual({ status: 'degraded', checks: { database: 'ok', redis: 'unavailable' }, release: expect.any(String), paused_queues: null });
      expect((await api.app.inject({ method: 'GET', url: '/api/jobs/some-id', headers: bearer() })).statusCode).toBe(503);

      await redis.restart();
      await waitFor(async () => (await api.app.inject({ method: 'GET', url: '/health' })).json().status === 'ok', { timeoutMs: 15_000, intervalMs: 100, description: '/health ok again' });
      // The key claimed while Redis was down enqueues its job now, under the same id (the reconciler would too).
      const retried = await api.app.inject({
        method: 'POST',
        url: '/api/governance/verify',
        payload: {},
        headers: { ...bearer(), 'idempotency-key': 'while-down' },
      });
      expect(retried.statusCode).toBe(202);
      expect(retried.json().jobId).toBe(keyed.json().jobId);
      expect(await api.queues.findJob(retried.json().jobId)).toBeDefined();
    } finally {
      await api.close();
      await redis.stop();
    }
  });
});

describe('when PostgreSQL is down', () => {
  it('/health names the database and reads answer 503 DEPENDENCY_UNAVAILABLE', async () => {
    const target = new URL(database.current.url);
    const proxy = await startTcpProxy({ host: target.hostname, port: Number(target.port || 5432) });
    const viaProxy = new URL(database.current.url);
    viaProxy.port = String(proxy.port);
    const pool = await createDatabasePool({
      connectionUri: viaProxy.toString(),
      maxPoolSize: 2,
      applicationName: 'api-test-down',
      connectionTimeoutMs: 500,
    });
    const api = await startApi(database.current);
    const app = await buildServer({
      config: api.config,
      logger: createLogger({ name: 'api-test-down', level: 'silent' }),
      pool,
      redis: api.redis,
      queues: api.queues,
      migrations: createMigrator({ db: pool, migrationsDir: MIGRATIONS_DIR }),
    });
    try {
      expect((await app.inject({ method: 'GET', url: '/api/governance/runbook/status', headers: bearer() })).statusCode).toBe(200);
      await proxy.cut();
      const health = await app.inject({ method: 'GET', url: '/health' });
      expect(health.statusCode).toBe(503);
      expect(health.json().checks.database).toBe('unavailable');
      for (const url of ['/api/governance/runbook/status', '/api/governance/audit', '/api/governance/verifications']) {
        const response = await app.inject({ method: 'GET', url, headers: bearer() });
        expect(response.statusCode, url).toBe(503);
        expect(response.json().error.code).toBe('DEPENDENCY_UNAVAILABLE');
      }
      const keyed = await app.inject({
        method: 'POST',
        url: '/api/governance/verify',
        payload: {},
        headers: { ...bearer(), 'idempotency-key': 'db-down' },
      });
      expect(keyed.statusCode).toBe(503);
      expect(await api.jobCount()).toBe(0);
      // An engage with a key still goes out, under the job id its key gives (the same on a repeat).
      const engage = () =>
        app.inject({ method: 'POST', url: '/api/governance/kill-switch', payload: { engaged: true, reason: 'db down' }, headers: { ...bearer(), 'idempotency-key': 'engage-db-down' } });
      const first = await engage();
      expect(first.statusCode, first.body).toBe(202);
      expect((await engage()).json().jobId).toBe(first.json().jobId);
      expect(await api.jobCount()).toBe(1);
    } finally {
      await app.close();
      await pool.end();
      await api.close();
      await proxy.cut();
    }
  });
});
