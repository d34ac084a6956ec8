import { createHash } from 'node:crypto';
import { describe, expect, it } from 'vitest';
import { sql } from '../../packages/core/src/index.js';
import { ALICE, BOB, startApi, useApi, type ApiHarness } from '../api/support.js';
import { waitFor } from '../helpers/waitFor.js';
import { openSse } from './sseClient.js';
import { listenOnFreePort } from './support.js';

// A server and database per test; heartbeats (and the session checks that go with them) every 100 ms.
const api = useApi({ perTest: true, env: { LIVE_HEARTBEAT_MS: '100' } });

/** Signs in as the console does: the session cookie and its CSRF token. */
const signIn = async (harness: ApiHarness, token: string) => {
  const response = await harness.app.inject({ method: 'POST', url: '/api/session', payload: { token } });
  expect(response.statusCode).toBe(200);
  const cookie = /^(valhalla_session=[^;]+)/.exec(String(response.headers['set-cookie']))?.[1] ?? '';
  return { cookie, secret: cookie.slice(cookie.indexOf('=') + 1), csrf: response.json().csrfToken as string };
};

const streamUrl = async (harness: ApiHarness) => `${await listenOnFreePort(harness)}/api/governance/stream`;

describe('state streams opened with a session end with the session', () => {
  it('ends the session streams at its logout (DELETE /api/session), and no other stream', async () => {
    const url = await streamUrl(api.current);
    const session = await signIn(api.current, ALICE.token);
    const mine = await openSse(url, { cookie: session.cookie });
    const sameActorOtherSession = await openSse(url, { cookie: (await signIn(api.current, ALICE.token)).cookie });
    const bearer = await openSse(url, { token: BOB.token });
    await Promise.all([mine, sameActorOtherSession, bearer].map((stream) => stream.waitForEvents(1)));
    const logout = await api.current.app.inject({ method: 'DELETE', url: '/api/session', headers: { cookie: session.cookie, 'x-csrf-token': session.csrf } });
    expect(logout.statusCode).toBe(204);
    await waitFor(() => mine.isEnded(), { timeoutMs: 5_000, description: 'the stream of the signed-out session ended' });
    expect(mine.endedCleanly()).toBe(true);
    // Reconnecting with the same cookie is refused.
    const again = await openSse(url, { cookie: session.cookie });
    await again.ended;
    expect(again.status).toBe(401);
    // Heartbeats went on for the others meanwhile.
    const beats = bearer.comments.length;
    await waitFor(() => bearer.comments.length > beats + 2 && sameActorOtherSession.comments.length > 2, { description: 'the other streams go on' });
    expect(sameActorOtherSession.isEnded()).toBe(false);
    await Promise.all([sameActorOtherSession.close(), bearer.close()]);
  });

  it('ends them at a dashboard logout (POST /admin/logout) too', async () => {
    const url = await streamUrl(api.current);
    const session = await signIn(api.current, ALICE.token);
    const stream = await openSse(url, { cookie: session.cookie });
    await stream.waitForEvents(1);
    const logout = await api.current.app.inject({ method: 'POST', url: '/admin/logout', headers: { cookie: session.cookie, 'x-csrf-token': session.csrf } });
    expect(logout.statusCode).toBe(204);
    await waitFor(() => stream.isEnded(), { timeoutMs: 5_000, description: 'the stream ended' });
  });

  it('ends them on another api instance by its next session check', async () => {
    const other = await startApi(api.current.database, { env: { LIVE_HEARTBEAT_MS: '100' } });
    try {
      const session = await signIn(api.current, ALICE.token);
      const stream = await openSse(await streamUrl(other), { cookie: session.cookie });
      await stream.waitForEvents(1);
      // Signed out on the first instance: the second learns it from PostgreSQL.
      const logout = await api.current.app.inject({ method: 'DELETE', url: '/api/session', headers: { cookie: session.cookie, 'x-csrf-token': session.csrf } });
      expect(logout.statusCode).toBe(204);
      await waitFor(() => stream.isEnded(), { timeoutMs: 5_000, description: 'the stream on the other instance ended' });
    } finally {
      await other.close();
    }
  });

  it('ends them when the session expires', async () => {
    const url = await streamUrl(api.current);
    const session = await signIn(api.current, ALICE.token);
    const idHash = createHash('sha256').update(session.secret, 'utf8').digest('hex');
    await api.current.database.pool.query(sql.unsafe`UPDATE public.api_sessions SET expires_at = now() + interval '1500 milliseconds' WHERE id_hash = ${idHash}`);
    const stream = await openSse(url, { cookie: session.cookie });
    const bearer = await openSse(url, { token: ALICE.token });
    await Promise.all([stream.waitForEvents(1), bearer.waitForEvents(1)]);
    await waitFor(() => stream.isEnded(), { timeoutMs: 10_000, description: 'the stream of the expired session ended' });
    expect(stream.comments.length).toBeGreaterThan(3);
    expect(bearer.isEnded()).toBe(false);
    await bearer.close();
  });
});
