import { beforeEach, describe, expect, it } from 'vitest';
import { ALICE, BOB, useApi } from '../api/support.js';
import { waitFor } from '../helpers/waitFor.js';
import { openSse } from './sseClient.js';
import { listenOnFreePort } from './support.js';

// A server per test: a stream another case closed may still count against the token's limit until the server has
// seen the socket close.
const api = useApi({ perTest: true, env: { LIVE_HEARTBEAT_MS: '50', LIVE_STREAMS_PER_TOKEN: '2' } });
let url = '';
beforeEach(async () => {
  url = `${await listenOnFreePort(api.current)}/api/governance/stream`;
});

describe('stream options', () => {
  it('sends a heartbeat comment every LIVE_HEARTBEAT_MS', async () => {
    const stream = await openSse(url, { token: ALICE.token });
    await waitFor(() => stream.comments.filter((c) => c === 'heartbeat').length >= 3, { timeoutMs: 5_000, description: 'three heartbeats' });
    await stream.close();
  });

  it('limits open streams per token (LIVE_STREAMS_PER_TOKEN) with 429, other tokens unaffected, and frees a closed one', async () => {
    const a = await openSse(url, { token: ALICE.token });
    const b = await openSse(url, { token: ALICE.token });
    await Promise.all([a.waitForEvents(1), b.waitForEvents(1)]);
    const refused = await openSse(url, { token: ALICE.token });
    await refused.ended;
    expect(refused.status).toBe(429);
    expect(JSON.parse(refused.body()).error).toMatchObject({ code: 'RATE_LIMITED' });
    expect(JSON.parse(refused.body()).error.message).toMatch(/LIVE_STREAMS_PER_TOKEN/);
    const other = await openSse(url, { token: BOB.token });
    expect(other.status).toBe(200);
    await a.close();
    const again = await waitFor(async () => {
      const attempt = await openSse(url, { token: ALICE.token });
      if (attempt.status === 200) return attempt;
      await attempt.close();
      return undefined;
    }, { description: 'a stream after one closed' });
    await Promise.all([b.close(), other.close(), again.close()]);
  });
});
