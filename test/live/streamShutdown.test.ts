import { describe, expect, it } from 'vitest';
import { startApiProcess } from '../api/processes.js';
import { ALICE } from '../api/support.js';
import { useTestDatabase } from '../helpers/database.js';
import { testRedisUrl, uniqueQueuePrefix } from '../helpers/redis.js';
import { openSse } from './sseClient.js';

const database = useTestDatabase({ poolSize: 2 });

describe('streams on shutdown of a real api process', () => {
  it('ends every open stream on SIGTERM, before the drain deadline, and exits 0', async () => {
    // A drain deadline far longer than the test: if the streams held the server open, the exit would come too late.
    const api = await startApiProcess({
      databaseUrl: database.current.url,
      redisUrl: testRedisUrl(),
      prefix: uniqueQueuePrefix('live-shutdown'),
      extra: { SHUTDOWN_TIMEOUT_MS: '60000' },
    });
    const streams = await Promise.all([1, 2, 3].map(() => openSse(`${api.url}/api/governance/stream`, { token: ALICE.token })));
    await Promise.all(streams.map((stream) => stream.waitForEvents(1)));

    const started = Date.now();
    api.process.child.kill('SIGTERM');
    await Promise.all(streams.map((stream) => stream.ended));
    // Each stream got its state and then a clean end of the response (not a reset connection).
    for (const stream of streams) {
      expect(stream.body()).toMatch(/event: state\n/);
      expect(stream.endedCleanly()).toBe(true);
    }
    expect(await api.process.exited).toEqual({ code: 0, signal: null });
    expect(Date.now() - started).toBeLessThan(10_000);
    expect(api.process.logLines().find((line) => line.msg === 'api stopped')).toMatchObject({ failed: [] });
  });
});
