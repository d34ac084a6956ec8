import { afterEach, describe, expect, it } from 'vitest';
import { createGoLiveClient, type GoLiveClient, type GoLiveClientOptions } from '../../packages/client/src/index.js';
import { sql } from '../../packages/core/src/index.js';
import { startApiProcess } from '../api/processes.js';
import { ALICE } from '../api/support.js';
import { useTestDatabase } from '../helpers/database.js';
import type { ManagedProcess } from '../helpers/processes.js';
import { testRedisUrl, uniqueQueuePrefix } from '../helpers/redis.js';
import { waitFor } from '../helpers/waitFor.js';
import { GOVERNANCE_ACTIONS, applyChange } from '../live/support.js';

/**
 * The client against an api that stops answering without closing anything: a real api process stopped with SIGSTOP
 * (as a VM pause, a long GC stall or a network partition without FIN looks from outside). Its sockets stay open and
 * silent; only the bytes that stop arriving tell.
 */
// A database per test: each makes the state live, and each api process listens on it.
const database = useTestDatabase({ perTest: true });

const clients: GoLiveClient[] = [];
let frozen: ManagedProcess | undefined;
afterEach(async () => {
  // A stopped process must run again before it can end; the leak guard kills it otherwise.
  frozen?.child.kill('SIGCONT');
  frozen = undefined;
  await Promise.all(clients.splice(0).map((client) => client.close()));
});

const startLiveApi = async (extra: Record<string, string> = {}) => {
  const pool = database.current.pool;
  await applyChange(pool, GOVERNANCE_ACTIONS.killSwitchRelease);
  // The full go-live path needs a passed verification; the row is set as the worker would leave it.
  await pool.query(sql.unsafe`UPDATE public.go_live_state SET go_live_enabled = true WHERE id = 1`);
  return startApiProcess({ databaseUrl: database.current.url, redisUrl: testRedisUrl(), prefix: uniqueQueuePrefix('frozen'), extra });
};

const client = (options: GoLiveClientOptions) => {
  const created = createGoLiveClient({ reconnect: { initialMs: 50, maxMs: 200 }, ...options });
  created.on('error', () => {});
  clients.push(created);
  return created;
};

/** Samples `read` every 20 ms until `until()` holds; returns what was read. */
const sampleUntil = async <T>(read: () => T, until: () => boolean, timeoutMs: number): Promise<T[]> => {
  const samples: T[] = [];
  await waitFor(() => {
    samples.push(read());
    return until();
  }, { timeoutMs, intervalMs: 20, description: 'the sampling window' });
  return samples;
};

describe('@valhalla/client against a frozen api (SIGSTOP)', () => {
  it('counts the age from the last byte received, heartbeats included, and counts a stream silent past its heartbeat bound as down', async () => {
    const api = await startLiveApi({ LIVE_HEARTBEAT_MS: '200' });
    frozen = api.process;
    const goLive = client({ url: api.url, token: ALICE.token, idleTimeoutMs: 1_500 });
    await goLive.ready();
    await waitFor(() => goLive.isLive(), { description: 'live' });

    // Healthy: heartbeats every 200 ms keep the age below a few heartbeats, and it never resets to a fake 0.
    const healthyUntil = Date.now() + 1_500;
    const healthy = await sampleUntil(() => goLive.state(), () => Date.now() > healthyUntil, 5_000);
    expect(Math.max(...healthy.map((state) => state?.ageMs ?? Infinity))).toBeLessThan(1_000);
    expect(healthy.every((state) => state?.transport === 'stream')).toBe(true);

    const lastByteBefore = Date.now();
    api.process.child.kill('SIGSTOP');
    const frozenAt = Date.now();
    // The socket stays open: the age grows from the last byte all the same, never restarting from zero.
    const ages = await sampleUntil(() => [Date.now() - frozenAt, goLive.state()?.ageMs ?? 0] as const, () => Date.now() - frozenAt > 1_000, 5_000);
    for (const [sinceFreeze, age] of ages) {
      expect(age).toBeGreaterThanOrEqual(sinceFreeze - 50);
      expect(age).toBeLessThanOrEqual(sinceFreeze + (frozenAt - lastByteBefore) + 200 + 100);
    }
    // Past the heartbeat bound (idleTimeoutMs) the stream counts as down, while the api's socket is still open.
    await waitFor(() => goLive.state()?.transport !== 'stream', { timeoutMs: 5_000, description: 'the silent stream to count as down' });
    const down = Date.now() - frozenAt;
    expect(down).toBeGreaterThanOrEqual(1_500 - 250);
    expect(down).toBeLessThan(1_500 + 1_500);
    expect(goLive.state()?.ageMs).toBeGreaterThanOrEqual(down - 50);
    // The default policy keeps the last known state.
    expect(goLive.isLive()).toBe(true);

    api.process.child.kill('SIGCONT');
    await waitFor(() => goLive.state()?.transport === 'stream' && (goLive.state()?.ageMs ?? Infinity) < 1_000, {
      timeoutMs: 10_000,
      description: 'the stream back after SIGCONT',
    });
    await api.process.stop();
  });

  it('fails closed within its bound of the last byte, not at the heartbeat bound, and is live again once the api answers', async () => {
    // The default heartbeat (15 s) is three times the bound: quiet, healthy streams are confirmed by conditional GETs.
    const api = await startLiveApi();
    frozen = api.process;
    const bound = 1_500;
    const goLive = client({ url: api.url, token: ALICE.token, failClosedAfterMs: bound });
    const flips: { live: boolean; at: number; ageMs: number }[] = [];
    goLive.on('change', (state) => flips.push({ live: goLive.isLive(), at: Date.now(), ageMs: state.ageMs }));
    await goLive.ready();
    await waitFor(() => goLive.isLive(), { description: 'live' });

    // A healthy api keeps the client live without a gap, between heartbeats far apart.
    const healthyUntil = Date.now() + 3 * bound;
    const healthy = await sampleUntil(() => goLive.isLive(), () => Date.now() > healthyUntil, 10_000);
    expect(healthy.filter((live) => !live)).toEqual([]);
    expect(goLive.state()?.transport).toBe('stream');

    api.process.child.kill('SIGSTOP');
    const frozenAt = Date.now();
    await waitFor(() => !goLive.isLive(), { timeoutMs: 10_000, description: 'the client to fail closed' });
    const failedClosedAfter = Date.now() - frozenAt;
    expect(failedClosedAfter).toBeLessThanOrEqual(bound + 1_000);
    expect(goLive.state()?.ageMs).toBeGreaterThan(bound);
    // Still "connected" as far as TCP knows: the bound held without waiting for the heartbeat bound (45 s).
    expect(goLive.state()?.live).toBe(true);
    await waitFor(() => flips.some((flip) => !flip.live), { timeoutMs: 2_000, description: 'a change event for the flip' });
    expect(flips.find((flip) => !flip.live)?.ageMs).toBeGreaterThan(bound);

    api.process.child.kill('SIGCONT');
    await waitFor(() => goLive.isLive(), { timeoutMs: 10_000, description: 'live again once the api answers' });
    expect(flips.at(-1)?.live).toBe(true);
    await api.process.stop();
  });
});
