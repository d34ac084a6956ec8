import { describe, expect, it } from 'vitest';
import { buildServer } from '../../apps/api/src/index.js';
import { createDatabasePool, createLogger, loadConfig } from '../../packages/core/src/index.js';
import { createMigrator } from '../../packages/core/src/migrator/index.js';
import { ALICE, bearer, startApi } from '../api/support.js';
import { startTcpProxy } from '../api/tcpProxy.js';
import { useTestDatabase } from '../helpers/database.js';
import { MIGRATIONS_DIR } from '../helpers/globalSetup.js';
import { waitFor } from '../helpers/waitFor.js';
import { openSse, type SseConnection } from './sseClient.js';

const database = useTestDatabase({ poolSize: 2 });

describe('live state while PostgreSQL is unreachable', () => {
  it('serves the last known state with its age up to LIVE_MAX_STALENESS_MS, then 503 DEPENDENCY_UNAVAILABLE, and recovers', async () => {
    const target = new URL(database.current.url);
    let proxy = await startTcpProxy({ host: target.hostname, port: Number(target.port || 5432) });
    const viaProxy = new URL(database.current.url);
    viaProxy.port = String(proxy.port);
    const pool = await createDatabasePool({ connectionUri: viaProxy.toString(), maxPoolSize: 2, applicationName: 'live-down', connectionTimeoutMs: 300 });
    const harness = await startApi(database.current);
    const config = loadConfig(
      {
        NODE_ENV: 'test',
        DATABASE_URL: viaProxy.toString(),
        REDIS_URL: harness.redisUrl,
        GOVERNANCE_TOKENS: `${ALICE.actor}:${ALICE.token}`,
        LIVE_FALLBACK_MAX_AGE_MS: '100',
        LIVE_MAX_STALENESS_MS: '1500',
        LIVE_HEARTBEAT_MS: '100',
      },
      'api',
    );
    const app = await buildServer({
      config,
      logger: createLogger({ name: 'live-down', level: 'silent' }),
      pool,
      redis: harness.redis,
      queues: harness.queues,
      migrations: createMigrator({ db: pool, migrationsDir: MIGRATIONS_DIR }),
    });
    const live = () => app.inject({ url: '/api/governance/live', headers: bearer() });
    const base = await app.listen({ port: 0, host: '127.0.0.1' });
    let sse: SseConnection | undefined;
    try {
      const before = await waitFor(async () => {
        const response = await live();
        return response.statusCode === 200 && response.headers['x-live-state-age-ms'] === undefined && response;
      }, { description: 'the listener to be up' });
      sse = await openSse(`${base}/api/governance/stream`, { token: ALICE.token });
      await waitFor(() => sse!.comments.length >= 2, { description: 'heartbeats while the state is current' });

      await proxy.cut();
      const stale = await waitFor(async () => {
        const response = await live();
        return response.statusCode === 200 && response.headers['x-live-state-age-ms'] !== undefined && response;
      }, { description: 'a state served with its age' });
      expect(stale.body).toBe(before.body);
      const heartbeatsWhenStale = sse.comments.length;
      const staleAt = Date.now();
      // OFREP answers from the same state, with the same age header.
      const evaluate = () =>
        app.inject({ method: 'POST', url: '/ofrep/v1/evaluate/flags/valhalla-live', headers: { ...bearer(), 'content-type': 'application/json' }, payload: { context: {} } });
      const staleEvaluation = await evaluate();
      expect(staleEvaluation.statusCode).toBe(200);
      expect(staleEvaluation.headers['x-live-state-age-ms']).toBeDefined();
      expect(staleEvaluation.json()).toMatchObject({ key: 'valhalla-live', value: before.json().live });

      const refused = await waitFor(async () => {
        const response = await live();
        return response.statusCode === 503 && response;
      }, { timeoutMs: 10_000, description: '503 past the staleness bound' });
      expect(refused.json().error).toMatchObject({ code: 'DEPENDENCY_UNAVAILABLE' });
      expect(refused.json().error.message).toMatch(/ms old/);
      const stream = await app.inject({ url: '/api/governance/stream', headers: bearer() });
      expect(stream.statusCode).toBe(503);
      // A heartbeat vouches for the state: an instance that cannot read PostgreSQL falls silent once its state is
      // older than twice LIVE_FALLBACK_MAX_AGE_MS (at most 2 more of 100 ms after the first stale answer, of the 10+
      // intervals before the 503), so stream clients see their state age.
      expect(Date.now() - staleAt).toBeGreaterThanOrEqual(1_000);
      expect(sse.comments.length - heartbeatsWhenStale).toBeLessThanOrEqual(3);
      expect(sse.isEnded()).toBe(false);
      const refusedEvaluation = await evaluate();
      expect(refusedEvaluation.statusCode).toBe(503);
      expect(refusedEvaluation.json()).toEqual({ key: 'valhalla-live', errorCode: 'GENERAL', errorDetails: expect.stringMatching(/ms old/) });

      // PostgreSQL back on the same port: the listener reconnects and /live answers from memory again.
      proxy = await startTcpProxy({ host: target.hostname, port: Number(target.port || 5432) }, Number(viaProxy.port));
      await waitFor(async () => {
        const response = await live();
        return response.statusCode === 200 && response.headers['x-live-state-age-ms'] === undefined;
      }, { timeoutMs: 15_000, description: 'the listener to reconnect' });
      const heartbeatsWhenBack = sse.comments.length;
      await waitFor(() => sse!.comments.length > heartbeatsWhenBack + 1, { description: 'heartbeats again' });
    } finally {
      await sse?.close();
      await app.close();
      await pool.end();
      await harness.close();
      await proxy.cut();
    }
  });
});
