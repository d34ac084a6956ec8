import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { createGoLiveClient, type GoLiveClient, type GoLiveState } from '../../packages/client/src/index.js';
import { sql } from '../../packages/core/src/index.js';
import { ALICE, startApi, useApi } from '../api/support.js';
import { track } from '../helpers/leaks.js';
import { waitFor } from '../helpers/waitFor.js';
import { GOVERNANCE_ACTIONS, applyChange, newestAppliedId } from '../live/support.js';

// A database and server per test: each case expects the state changes it makes from a fresh install, and the last
// one leaves the system live.
const api = useApi({ perTest: true });
let base = '';
beforeEach(async () => {
  base = await api.current.app.listen({ port: 0, host: '127.0.0.1' });
});

const clients: GoLiveClient[] = [];
afterEach(async () => {
  await Promise.all(clients.splice(0).map((client) => client.close()));
});
const client = (options: Partial<Parameters<typeof createGoLiveClient>[0]> = {}) => {
  const created = createGoLiveClient({ url: base, token: ALICE.token, reconnect: { initialMs: 50, maxMs: 200 }, ...options });
  created.on('error', () => {});
  clients.push(created);
  return created;
};

/** A proxy in front of the api that refuses streams (as some corporate proxies do) and forwards everything else. */
const startStreamRefusingProxy = async (target: string) => {
  const server = http.createServer((request, response) => {
    if (request.url?.startsWith('/api/governance/stream')) {
      response.writeHead(502).end('streams are not allowed here');
      return;
    }
    const upstream = http.request(new URL(request.url ?? '/', target), { method: request.method, headers: request.headers }, (answer) => {
      response.writeHead(answer.statusCode ?? 502, answer.headers);
      answer.pipe(response);
    });
    upstream.on('error', () => response.destroy());
    request.pipe(upstream);
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const close = () => new Promise<void>((resolve) => server.close(() => resolve()));
  track(server, { description: 'stream-refusing proxy', isOpen: () => server.listening, close });
  return { url: `http://127.0.0.1:${(server.address() as AddressInfo).port}`, close };
};

describe('@valhalla/client against a real api', () => {
  it('is ready with the state, answers isLive() from memory, and reports every change in order', async () => {
    const pool = api.current.database.pool;
    const goLive = client();
    expect(goLive.isLive()).toBe(false);
    expect(goLive.state()).toBeUndefined();
    await goLive.ready();
    expect(goLive.state()).toMatchObject({ version: await newestAppliedId(pool), transport: 'stream', stale: false });
    expect(goLive.state()?.ageMs).toBeLessThan(1_000);
    const seen: GoLiveState[] = [];
    goLive.on('change', (state) => seen.push(state));

    await applyChange(pool, GOVERNANCE_ACTIONS.killSwitchRelease);
    await applyChange(pool, GOVERNANCE_ACTIONS.metadataUpdate, { metadata: { backend_complete: true } });
    // The full go-live path needs a passed verification; here the row is set as the worker would leave it.
    await pool.query(sql.unsafe`UPDATE public.go_live_state SET go_live_enabled = true WHERE id = 1`);
    await waitFor(() => goLive.isLive(), { description: 'live' });
    await applyChange(pool, GOVERNANCE_ACTIONS.killSwitchEngage);
    await waitFor(() => !goLive.isLive(), { description: 'not live after the engage' });
    expect(seen.map((state) => [state.kill_switch_engaged, state.backend_complete, state.live])).toEqual([
      [false, false, false],
      [false, true, false],
      [false, true, true],
      [true, true, false],
    ]);
    expect(goLive.state()?.version).toBe(await newestAppliedId(pool));
  });

  it('reconnects across an api restart and resumes with the state changed meanwhile', async () => {
    const pool = api.current.database.pool;
    // An api of its own on a fixed port, so that it can be restarted at the same address.
    let own = await startApi(api.current.database);
    const address = await own.app.listen({ port: 0, host: '127.0.0.1' });
    const port = new URL(address).port;
    const goLive = client({ url: address });
    await goLive.ready();
    await own.close();
    await waitFor(() => goLive.state()?.transport !== 'stream', { description: 'the client to notice the restart' });
    await applyChange(pool, GOVERNANCE_ACTIONS.killSwitchRelease, { reason: 'while the api restarts' });
    own = await startApi(api.current.database);
    try {
      await own.app.listen({ port: Number(port), host: '127.0.0.1' });
      await waitFor(() => goLive.state()?.transport === 'stream' && goLive.state()?.reason === 'while the api restarts', {
        description: 'the change made during the restart',
      });
      await applyChange(pool, GOVERNANCE_ACTIONS.killSwitchEngage, { reason: 'after the restart' });
      await waitFor(() => goLive.state()?.reason === 'after the restart', { description: 'a change over the new stream' });
    } finally {
      await goLive.close();
      await own.close();
    }
  });

  it('falls back to polling /live when streaming is refused', async () => {
    const pool = api.current.database.pool;
    const proxy = await startStreamRefusingProxy(base);
    const errors: Error[] = [];
    const goLive = client({ url: proxy.url, pollIntervalMs: 100 });
    goLive.on('error', (error) => errors.push(error));
    await goLive.ready();
    expect(goLive.state()?.transport).toBe('poll');
    expect(errors.some((error) => /502/.test(error.message))).toBe(true);
    await applyChange(pool, GOVERNANCE_ACTIONS.killSwitchRelease, { reason: 'seen by polling' });
    await waitFor(() => goLive.state()?.reason === 'seen by polling', { description: 'the change through polling' });
    await goLive.close();
    await proxy.close();
  });

  it('keeps the last known state by default when the control plane is unreachable, and fails closed after the bound when asked', async () => {
    const pool = api.current.database.pool;
    await applyChange(pool, GOVERNANCE_ACTIONS.killSwitchRelease);
    await pool.query(sql.unsafe`UPDATE public.go_live_state SET go_live_enabled = true WHERE id = 1`);
    const own = await startApi(api.current.database);
    const address = await own.app.listen({ port: 0, host: '127.0.0.1' });
    const keep = client({ url: address, staleAfterMs: 200 });
    const failClosed = client({ url: address, failClosedAfterMs: 300 });
    await Promise.all([keep.ready(), failClosed.ready()]);
    await waitFor(() => keep.isLive() && failClosed.isLive(), { description: 'both live' });
    const flips: boolean[] = [];
    failClosed.on('change', (state) => flips.push(state.live && failClosed.isLive()));

    await own.close();
    await waitFor(() => !failClosed.isLive(), { timeoutMs: 5_000, description: 'the fail-closed client to stop being live' });
    await waitFor(() => flips.includes(false), { timeoutMs: 5_000, description: 'a change event for the fail-closed flip' });
    expect(failClosed.state()?.ageMs).toBeGreaterThan(300);
    await waitFor(() => (keep.state()?.ageMs ?? 0) > 400, { description: 'the default client state to age' });
    expect(keep.isLive()).toBe(true);
    expect(keep.state()).toMatchObject({ live: true, stale: true });
    expect(keep.state()?.transport).not.toBe('stream');
  });
});
