import { describe, expect, it } from 'vitest';
import { useTestDatabase } from '../helpers/database.js';
import { startNodeProcess } from '../helpers/processes.js';
import { testRedisUrl, uniqueQueuePrefix } from '../helpers/redis.js';
import { freePort } from '../helpers/redisServer.js';
import { waitFor } from '../helpers/waitFor.js';
import { API_ENTRYPOINT } from './processes.js';
import { TOKENS_ENV } from './support.js';
import { startTcpProxy } from './tcpProxy.js';

const database = useTestDatabase({ poolSize: 1 });

describe('api startup while PostgreSQL is unreachable', () => {
  it('keeps retrying, then listens and answers /health once the database is reachable', async () => {
    // The api reaches the test database through a port where nothing listens yet, as during a database restart.
    const databasePort = await freePort();
    const url = new URL(database.current.url);
    const target = { host: url.hostname, port: Number(url.port || 5432) };
    url.port = String(databasePort);
    const apiPort = await freePort();
    const api = startNodeProcess(
      API_ENTRYPOINT,
      [],
      {
        DATABASE_URL: url.toString(),
        REDIS_URL: testRedisUrl(),
        BULLMQ_PREFIX: uniqueQueuePrefix('startup'),
        PORT: String(apiPort),
        HOST: '127.0.0.1',
        GOVERNANCE_TOKENS: TOKENS_ENV,
        LOG_LEVEL: 'info',
      },
      'api',
    );
    await api.waitForOutput(/PostgreSQL is not reachable yet; retrying/, 20_000);
    expect(api.child.exitCode).toBeNull();

    const proxy = await startTcpProxy(target, databasePort);
    await api.waitForOutput(/api listening on/, 30_000);
    const health = await waitFor(async () => {
      const response = await fetch(`http://127.0.0.1:${apiPort}/health`);
      return response.status === 200 ? ((await response.json())) : false;
    }, { timeoutMs: 10_000, description: '/health 200' });
    expect(health).toEqual({ status: 'ok', checks: { database: 'ok', redis: 'ok' }, release: expect.any(String), paused_queues: [] });
    expect((await api.stop('SIGTERM')).code).toBe(0);
    await proxy.cut();
  });
});
