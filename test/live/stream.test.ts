import { once } from 'node:events';
import { connect } from 'node:net';
import { beforeEach, describe, expect, it } from 'vitest';
import { sql } from '../../packages/core/src/index.js';
import { ALICE, bearer, useApi } from '../api/support.js';
import { waitFor } from '../helpers/waitFor.js';
import { openSse } from './sseClient.js';
import { GOVERNANCE_ACTIONS, applyChange, listenOnFreePort, newestAppliedId, parseBody } from './support.js';

const READER = { actor: 'dashboard', token: 'reader-token-0123456789abcdef' } as const;
const APP = { actor: 'checkout', token: 'app-token-0123456789abcdefghi' } as const;
const ALERTS = { actor: 'alertmanager', token: 'alerts-token-0123456789abcdef' } as const;
// A database and server per test: the cases change row 1 and each expects the events of its own changes only.
const api = useApi({
  perTest: true,
  env: {
    READER_TOKENS: `${READER.actor}:${READER.token}`,
    APP_TOKENS: `${APP.actor}:${APP.token}`,
    ALERT_TOKENS: `${ALERTS.actor}:${ALERTS.token}`,
  },
});
let base = '';
const streamUrl = () => `${base}/api/governance/stream`;

beforeEach(async () => {
  base = await listenOnFreePort(api.current);
  await waitFor(() => api.current.app.inject({ url: '/api/governance/live', headers: bearer() }).then((r) => r.statusCode === 200));
});

/** Releases the kill switch (a fresh install is engaged) and waits until the api serves that version. */
const releaseFirst = async () => {
  await applyChange(api.current.database.pool, GOVERNANCE_ACTIONS.killSwitchRelease);
  const released = `"${await newestAppliedId(api.current.database.pool)}"`;
  await waitFor(async () => (await api.current.app.inject({ url: '/api/governance/live', headers: bearer() })).headers.etag === released, {
    description: 'the api to serve the release',
  });
};

describe('GET /api/governance/live', () => {
  it('answers the state from memory with an ETag of its version, and 304 for If-None-Match', async () => {
    const pool = api.current.database.pool;
    const response = await api.current.app.inject({ url: '/api/governance/live', headers: bearer() });
    expect(response.statusCode).toBe(200);
    const body = response.json();
    expect(Object.keys(body).sort()).toEqual(
      ['backend_complete', 'changed_by', 'go_live_enabled', 'kill_switch_engaged', 'live', 'reason', 'updated_at', 'version'].sort(),
    );
    expect(body.version).toBe(await newestAppliedId(pool));
    expect(response.headers.etag).toBe(`"${body.version}"`);
    const again = await api.current.app.inject({ url: '/api/governance/live', headers: { ...bearer(), 'if-none-match': response.headers.etag as string } });
    expect(again.statusCode).toBe(304);
    expect(again.body).toBe('');
    const other = await api.current.app.inject({ url: '/api/governance/live', headers: { ...bearer(), 'if-none-match': '"999999"' } });
    expect(other.statusCode).toBe(200);
  });

  it('needs a token', async () => {
    const response = await api.current.app.inject({ url: '/api/governance/live' });
    expect(response.statusCode).toBe(401);
    expect(response.json().error.code).toBe('UNAUTHENTICATED');
  });
});

describe('GET /api/governance/stream', () => {
  it('sends the state on connect with its version as id, with headers that stop proxy buffering', async () => {
    const stream = await openSse(streamUrl(), { token: ALICE.token });
    expect(stream.status).toBe(200);
    expect(stream.headers['content-type']).toBe('text/event-stream; charset=utf-8');
    expect(stream.headers['x-accel-buffering']).toBe('no');
    expect(stream.headers['cache-control']).toMatch(/no-cache/);
    expect(stream.headers['content-encoding'] ?? 'identity').toBe('identity');
    const [first] = await stream.waitForEvents(1);
    const live = await api.current.app.inject({ url: '/api/governance/live', headers: bearer() });
    expect(first).toEqual({ event: 'state', id: String(live.json().version), data: live.body });
    await stream.close();
  });

  it('sends one event per applied change, in commit order, and nothing for unchanged or rejected changes', async () => {
    const pool = api.current.database.pool;
    const stream = await openSse(streamUrl(), { token: ALICE.token });
    await stream.waitForEvents(1);

    expect((await applyChange(pool, GOVERNANCE_ACTIONS.killSwitchRelease)).outcome).toBe('applied');
    expect((await applyChange(pool, GOVERNANCE_ACTIONS.killSwitchRelease)).outcome).toBe('unchanged');
    expect((await applyChange(pool, GOVERNANCE_ACTIONS.goLiveEnable)).outcome).toBe('rejected');
    expect((await applyChange(pool, GOVERNANCE_ACTIONS.metadataUpdate, { metadata: { backend_complete: true } })).outcome).toBe('applied');
    expect((await applyChange(pool, GOVERNANCE_ACTIONS.killSwitchEngage)).outcome).toBe('applied');
    const lastId = await newestAppliedId(pool);

    const events = await waitFor(() => stream.events.at(-1)?.id === String(lastId) && stream.events, { description: 'the last change' });
    const bodies = events.slice(1).map((event) => parseBody(event.data));
    expect(bodies.map((b) => [b.kill_switch_engaged, b.backend_complete])).toEqual([
      [false, false],
      [false, true],
      [true, true],
    ]);
    const ids = events.slice(1).map((event) => Number(event.id));
    expect(ids).toEqual([...ids].sort((a, b) => a - b));
    expect(bodies.map((b) => b.version)).toEqual(ids);
    // A later, unrelated event proves nothing else was on its way for the unchanged and rejected changes.
    expect((await applyChange(pool, GOVERNANCE_ACTIONS.killSwitchEngage)).outcome).toBe('unchanged');
    expect((await applyChange(pool, GOVERNANCE_ACTIONS.killSwitchRelease)).outcome).toBe('applied');
    await waitFor(() => stream.events.length === 5, { description: 'the release event' });
    expect(parseBody(stream.events[4]!.data).kill_switch_engaged).toBe(false);
    await stream.close();
  });

  it('frames each change as one HTTP/1.1 chunk on the wire, and sends an HTTP/1.0 client the bare events', async () => {
    const pool = api.current.database.pool;
    const { port } = new URL(base);
    // A raw socket reads exactly what the api wrote: the fan-out writes pre-framed chunks to the socket itself.
    const openRaw = async (version: '1.0' | '1.1') => {
      const socket = connect(Number(port), '127.0.0.1');
      let received = '';
      socket.setEncoding('latin1');
      socket.on('data', (chunk: string) => (received += chunk));
      await once(socket, 'connect');
      socket.write(`GET /api/governance/stream HTTP/${version}\r\nHost: 127.0.0.1\r\nAuthorization: Bearer ${ALICE.token}\r\n\r\n`);
      await waitFor(() => received.includes('event: state'), { description: `the first event over HTTP/${version}` });
      return { socket, received: () => received };
    };
    const modern = await openRaw('1.1');
    const old = await openRaw('1.0');
    expect(modern.received()).toMatch(/transfer-encoding: chunked/i);
    expect(old.received()).not.toMatch(/transfer-encoding/i);
    const before = { modern: modern.received().length, old: old.received().length };
    expect((await applyChange(pool, GOVERNANCE_ACTIONS.killSwitchRelease)).outcome).toBe('applied');
    const version = await newestAppliedId(pool);
    const event = (text: string) => text.slice(text.indexOf(`event: state\nid: ${version}\n`));
    await waitFor(() => modern.received().includes(`id: ${version}\n`) && old.received().includes(`id: ${version}\n`), { description: 'the change on both' });
    await waitFor(() => /\n\n\r\n$/.test(modern.received()) && old.received().endsWith('\n\n'), { description: 'whole events' });
    const bare = event(old.received());
    expect(bare).toMatch(/^event: state\nid: \d+\ndata: \{.*\}\n\n$/);
    // The 1.1 bytes are exactly one chunk: its size in hex, CRLF, the same event, CRLF.
    const chunk = modern.received().slice(before.modern);
    expect(chunk).toBe(`${Buffer.byteLength(bare).toString(16)}\r\n${bare}\r\n`);
    expect(old.received().slice(before.old)).toBe(bare);
    modern.socket.destroy();
    old.socket.destroy();
  });

  it('sends one event for a transaction of several changes, and one for a write made outside the product', async () => {
    const pool = api.current.database.pool;
    // The write outside the product engages: from a released state, so that the rows differ from the version's entry.
    await releaseFirst();
    const stream = await openSse(streamUrl(), { token: ALICE.token });
    const [initial] = await stream.waitForEvents(1);
    await pool.transaction(async (tx) => {
      await tx.query(sql.unsafe`UPDATE public.go_live_state SET kill_switch_engaged = true, reason = 'outside 1' WHERE id = 1`);
      await tx.query(sql.unsafe`UPDATE public.go_live_state SET reason = 'outside 2' WHERE id = 1`);
      await tx.query(sql.unsafe`UPDATE public.system_metadata SET notes = 'outside' WHERE id = 1`);
    });
    const [, event] = await stream.waitForEvents(2);
    const body = parseBody(event!.data);
    expect(body).toMatchObject({ kill_switch_engaged: true, reason: 'outside 2', version: parseBody(initial!.data).version });
    // The rows no longer match the version's change entry: the id (and ETag) say so, so no client is told "not modified".
    expect(event!.id).toMatch(new RegExp(`^${body.version}-[0-9a-f]{8}$`));
    const live = await api.current.app.inject({ url: '/api/governance/live', headers: { ...bearer(), 'if-none-match': `"${body.version}"` } });
    expect(live.statusCode).toBe(200);
    expect(live.headers.etag).toBe(`"${event!.id}"`);
    // A rolled-back write sends nothing; the next commit is the next event.
    await pool
      .transaction(async (tx) => {
        await tx.query(sql.unsafe`UPDATE public.go_live_state SET go_live_enabled = true WHERE id = 1`);
        throw new Error('roll back');
      })
      .catch(() => {});
    await applyChange(pool, GOVERNANCE_ACTIONS.killSwitchRelease);
    const events = await stream.waitForEvents(3);
    expect(parseBody(events[2]!.data)).toMatchObject({ kill_switch_engaged: false, go_live_enabled: false });
    expect(events).toHaveLength(3);
    await stream.close();
  });

  it('resumes with Last-Event-ID: nothing again when the client is current, the current state at once when it is not', async () => {
    const pool = api.current.database.pool;
    // The engage below must be a change (a fresh install is engaged).
    await releaseFirst();
    const first = await openSse(streamUrl(), { token: ALICE.token });
    const [initial] = await first.waitForEvents(1);
    await first.close();

    const current = await openSse(streamUrl(), { token: ALICE.token, lastEventId: initial!.id });
    await applyChange(pool, GOVERNANCE_ACTIONS.killSwitchEngage);
    const [next] = await current.waitForEvents(1);
    expect(parseBody(next!.data).kill_switch_engaged).toBe(true);
    expect(current.events).toHaveLength(1);
    await current.close();

    const behind = await openSse(streamUrl(), { token: ALICE.token, lastEventId: initial!.id });
    const [caughtUp] = await behind.waitForEvents(1);
    expect(caughtUp!.id).toBe(next!.id);
    expect(parseBody(caughtUp!.data).kill_switch_engaged).toBe(true);
    await behind.close();
  });

  it('answers 401 without a valid token, as JSON, not as a stream', async () => {
    for (const token of [undefined, 'not-a-token']) {
      const stream = await openSse(streamUrl(), token === undefined ? {} : { token });
      await stream.ended;
      expect(stream.status).toBe(401);
      expect(JSON.parse(stream.body()).error.code).toBe('UNAUTHENTICATED');
    }
  });

  it('shows changed_by and reason to operator and reader tokens, and null to app tokens, on /live and the stream', async () => {
    await releaseFirst();
    const streams = await Promise.all([ALICE.token, READER.token, APP.token].map((token) => openSse(streamUrl(), { token })));
    await Promise.all(streams.map((stream) => stream.waitForEvents(1)));
    await applyChange(api.current.database.pool, GOVERNANCE_ACTIONS.killSwitchEngage, { reason: 'INC-7: card payments failing' });
    const version = await newestAppliedId(api.current.database.pool);
    const [operator, reader, app] = await Promise.all(streams.map(async (stream) => (await stream.waitForEvents(2)).map((event) => parseBody(event.data))));
    for (const events of [operator, reader]) {
      expect(events?.[1]).toMatchObject({ version, changed_by: 'live-test', reason: 'INC-7: card payments failing' });
      expect(events?.[0]?.reason).toMatch(/release/);
    }
    for (const event of app ?? []) expect(event).toMatchObject({ changed_by: null, reason: null });
    expect(app?.[1]).toMatchObject({ version, kill_switch_engaged: true, live: false });
    for (const stream of streams) await stream.close();

    const bodies = await Promise.all(
      [ALICE.token, READER.token, APP.token].map(async (token) => (await api.current.app.inject({ url: '/api/governance/live', headers: bearer(token) })).json()),
    );
    expect(bodies[0]).toMatchObject({ version, changed_by: 'live-test', reason: 'INC-7: card payments failing' });
    expect(bodies[1]).toEqual(bodies[0]);
    expect(bodies[2]).toEqual({ ...bodies[0], changed_by: null, reason: null });
    // A resumed app stream gets the same body as a fresh one.
    const resumed = await openSse(streamUrl(), { token: APP.token, lastEventId: '1' });
    expect(parseBody((await resumed.waitForEvents(1))[0]?.data ?? '{}')).toEqual(bodies[2]);
    await resumed.close();
  });

  it('lets operator, reader and app tokens read /live and the stream, and answers 403 to other roles', async () => {
    for (const token of [ALICE.token, READER.token, APP.token]) {
      expect((await api.current.app.inject({ url: '/api/governance/live', headers: bearer(token) })).statusCode).toBe(200);
      const stream = await openSse(streamUrl(), { token });
      expect(stream.status).toBe(200);
      await stream.waitForEvents(1);
      await stream.close();
    }
    const live = await api.current.app.inject({ url: '/api/governance/live', headers: bearer(ALERTS.token) });
    expect(live.statusCode).toBe(403);
    expect(live.json().error.code).toBe('FORBIDDEN');
    const stream = await openSse(streamUrl(), { token: ALERTS.token });
    await stream.ended;
    expect(stream.status).toBe(403);
    expect(JSON.parse(stream.body()).error.code).toBe('FORBIDDEN');
  });
});
