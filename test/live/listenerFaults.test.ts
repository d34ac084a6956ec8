import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { sql } from '../../packages/core/src/index.js';
import { ALICE, bearer, startApi, useApi } from '../api/support.js';
import { adminQuery } from '../helpers/database.js';
import { waitFor } from '../helpers/waitFor.js';
import { openSse } from './sseClient.js';
import { GOVERNANCE_ACTIONS, applyChange, listenOnFreePort, newestAppliedId, parseBody } from './support.js';

/** The api's LISTEN connections on the test database, by application name. */
const listenerPids = async (databaseName: string): Promise<number[]> => {
  const result = await adminQuery(
    `SELECT pid FROM pg_stat_activity WHERE datname = '${databaseName}' AND application_name = 'valhalla-api-live' ORDER BY pid`,
  );
  return result.rows.map((row: { pid: number }) => row.pid);
};

// Two api instances on a database of each test's own: the cases expect the events of their own changes from a fresh
// install, and terminate the listeners (which must both be back before the next case).
const api = useApi({ perTest: true, env: { LIVE_FALLBACK_MAX_AGE_MS: '200' } });
let second: Awaited<ReturnType<typeof startApi>> | undefined;
let urls: string[] = [];

beforeEach(async () => {
  second = await startApi(api.current.database, { env: { LIVE_FALLBACK_MAX_AGE_MS: '200' } });
  urls = [await listenOnFreePort(api.current), await listenOnFreePort(second)].map((base) => `${base}/api/governance/stream`);
  await waitFor(async () => (await listenerPids(api.current.database.name)).length === 2, { description: 'two listeners' });
});
afterEach(async () => {
  await second?.close();
  second = undefined;
});

describe('LISTEN connection faults', () => {
  it('two api instances, each listening itself, both deliver every change', async () => {
    const pool = api.current.database.pool;
    const streams = await Promise.all(urls.map((url) => openSse(url, { token: ALICE.token })));
    await Promise.all(streams.map((stream) => stream.waitForEvents(1)));
    await applyChange(pool, GOVERNANCE_ACTIONS.killSwitchRelease);
    await applyChange(pool, GOVERNANCE_ACTIONS.killSwitchEngage);
    const version = String(await newestAppliedId(pool));
    for (const stream of streams) {
      const events = await waitFor(() => stream.events.at(-1)?.id === version && stream.events, { description: 'the last change' });
      expect(events.slice(1).map((event) => parseBody(event.data).kill_switch_engaged)).toEqual([false, true]);
    }
    await Promise.all(streams.map((stream) => stream.close()));
  });

  it('reconnects after its backend is terminated, catches up from the table, and no client misses the final state', async () => {
    const pool = api.current.database.pool;
    const streams = await Promise.all(urls.map((url) => openSse(url, { token: ALICE.token })));
    await Promise.all(streams.map((stream) => stream.waitForEvents(1)));
    const before = await listenerPids(api.current.database.name);
    expect(before).toHaveLength(2);

    // Terminate both listeners, then change the state several times while they are (probably) still down.
    await adminQuery(`SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE pid IN (${before.join(',')})`);
    await applyChange(pool, GOVERNANCE_ACTIONS.killSwitchRelease, { reason: 'while the listener is down 1' });
    await applyChange(pool, GOVERNANCE_ACTIONS.metadataUpdate, { metadata: { backend_complete: true } });
    await pool.query(sql.unsafe`UPDATE public.go_live_state SET reason = 'final, written outside the product' WHERE id = 1`);

    const after = await waitFor(async () => {
      const pids = await listenerPids(api.current.database.name);
      return pids.length === 2 && pids.every((pid) => !before.includes(pid)) && pids;
    }, { description: 'two new listener connections' });
    expect(after).toHaveLength(2);

    // A new connection is up before it has read the table, and for LIVE_FALLBACK_MAX_AGE_MS after the drop /live may
    // still answer the snapshot from before it: wait for the final state rather than take the first answer.
    const final = await waitFor(async () => {
      const response = await api.current.app.inject({ url: '/api/governance/live', headers: bearer() });
      return parseBody(response.body).reason === 'final, written outside the product' && response;
    }, { description: '/live to serve the final state' });
    for (const stream of streams) {
      await waitFor(() => stream.events.at(-1)?.data === final.body, { description: 'the final state on every stream' });
      expect(parseBody(stream.events.at(-1)!.data)).toMatchObject({ reason: 'final, written outside the product', backend_complete: true });
    }
    // And both instances keep delivering over their new connections.
    await applyChange(pool, GOVERNANCE_ACTIONS.killSwitchEngage);
    const version = String(await newestAppliedId(pool));
    for (const stream of streams) await waitFor(() => stream.events.at(-1)?.id === version, { description: 'a change after the reconnect' });
    await Promise.all(streams.map((stream) => stream.close()));
  });

  it('serves /live from a bounded-age read while the listener is down', async () => {
    const pool = api.current.database.pool;
    // Keep the listener down: terminate it as soon as it reconnects, while /live is read.
    let stop = false;
    const killer = (async () => {
      while (!stop) {
        const pids = await listenerPids(api.current.database.name);
        if (pids.length > 0) await adminQuery(`SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE pid IN (${pids.join(',')})`);
        await new Promise((resolve) => setTimeout(resolve, 5));
      }
    })();
    try {
      await applyChange(pool, GOVERNANCE_ACTIONS.killSwitchRelease, { reason: 'seen through the fallback read' });
      const version = await newestAppliedId(pool);
      await waitFor(async () => {
        const response = await api.current.app.inject({ url: '/api/governance/live', headers: bearer() });
        return response.statusCode === 200 && response.json().version === version;
      }, { timeoutMs: 5_000, description: '/live to show the change within the fallback age' });
    } finally {
      stop = true;
      await killer;
    }
  });
});
