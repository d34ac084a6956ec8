import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { Writable } from 'node:stream';
import { describe, expect, it } from 'vitest';
import { systemResolver, type HostResolver } from '../../packages/core/src/notifications/index.js';
import { bearer, startApi } from '../api/support.js';
import { track } from '../helpers/leaks.js';
import { waitFor } from '../helpers/waitFor.js';
import { burstPayload, startInProcessWorker, startWorkerProcess, useWorkerFixture, waitForGovernanceJobs, workerEnv } from '../worker/support/workerHarness.js';
import { NOTIFY_ENV, statusOf, subscribe } from './support/harness.js';

const fixture = useWorkerFixture('notify-safety');

type Hit = { path: string; body: string; headers: IncomingMessage['headers'] };
/** A plain HTTP server on 127.0.0.1 that records every request and answers with `handler`. */
const startServer = async (handler: (request: IncomingMessage, response: ServerResponse, body: string) => void) => {
  const hits: Hit[] = [];
  const server: Server = createServer((request, response) => {
    const chunks: Buffer[] = [];
    request.on('data', (chunk: Buffer) => chunks.push(chunk));
    request.on('end', () => {
      const body = Buffer.concat(chunks).toString('utf8');
      hits.push({ path: request.url ?? '', body, headers: request.headers });
      handler(request, response, body);
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const port = (server.address() as AddressInfo).port;
  let open = true;
  const close = () =>
    new Promise<void>((resolve) => {
      open = false;
      server.closeAllConnections();
      server.close(() => resolve());
    });
  return track({ port, hits, close }, { description: `http server on ${port}`, isOpen: () => open, close });
};

describe('notification delivery safety', () => {
  it('checks the target again at delivery, after DNS: a name re-pointed at loopback, metadata or 10.x is refused and never reached', async () => {
    const { database, prefix, producer } = fixture.current;
    const server = await startServer((_request, response) => response.writeHead(204).end());
    // At creation the names point at a public address; at delivery they point inside (DNS rebinding).
    const atCreation: HostResolver = async () => [{ address: '93.184.216.34', family: 4 }];
    const inside: Record<string, string> = { 'rebind.attacker.test': '127.0.0.1', 'metadata.attacker.test': '169.254.169.254', 'ten.attacker.test': '10.0.0.8' };
    const atDelivery: HostResolver = async (hostname) => (inside[hostname] === undefined ? systemResolver(hostname) : [{ address: inside[hostname], family: 4 }]);
    // No allow-list: this test's receiver on 127.0.0.1 must not be reachable.
    const env = { ...NOTIFY_ENV, NOTIFICATION_ALLOWED_HOSTS: '' };
    const api = await startApi(database, { env, resolveHost: atCreation });
    try {
      const subscriptions = await Promise.all(
        Object.keys(inside).map((name) => subscribe(api, { url: `http://${name}:${server.port}/hook`, filter: { kinds: ['change'] } })),
      );
      const worker = await startInProcessWorker(database, prefix, { env, app: { resolveNotificationHost: atDelivery } });
      await producer.change(burstPayload(3, 'rebind'));
      await waitForGovernanceJobs(producer, 1);
      for (const subscription of subscriptions) {
        const status = await waitFor(async () => {
          const current = await statusOf(api, subscription.id);
          return current.last_error === null ? false : current;
        }, { description: `a refused attempt of ${subscription.id}` });
        expect(status.last_error).toMatchObject({ code: 'TARGET_NOT_ALLOWED', message: expect.stringMatching(/resolves to (127\.0\.0\.1|169\.254\.169\.254|10\.0\.0\.8)/) });
        expect(status.backlog).toBe(1);
      }
      expect(server.hits).toEqual([]);
      await worker.close();
    } finally {
      await api.close();
      await server.close();
    }
  });

  it('does not follow redirects, reads a bounded answer, and sends Slack a Block Kit message with the entry escaped', async () => {
    const { database, prefix, producer } = fixture.current;
    const redirect = await startServer((_request, response) => response.writeHead(302, { location: 'http://127.0.0.1:1/elsewhere' }).end());
    const slack = await startServer((_request, response) => {
      // A huge answer: the worker reads at most 64 KiB of it and moves on.
      response.writeHead(200, { 'content-type': 'text/plain' });
      response.end('x'.repeat(8 * 1024 * 1024));
    });
    const api = await startApi(database, { env: { ...NOTIFY_ENV, NOTIFICATION_CONSOLE_URL: 'https://valhalla.example.com/console/' } });
    try {
      const moved = await subscribe(api, { url: `http://127.0.0.1:${redirect.port}/hook`, filter: { actions: ['kill_switch.engage'] } });
      const chat = await subscribe(api, { kind: 'slack', url: `http://127.0.0.1:${slack.port}/services/T1/B2/slacksecret`, filter: { actions: ['kill_switch.engage'] } });
      const worker = await startInProcessWorker(database, prefix, { env: { ...NOTIFY_ENV, NOTIFICATION_CONSOLE_URL: 'https://valhalla.example.com/console/' } });
      // A fresh install has the kill switch engaged: release it first, so the engage changes something.
      await producer.change({ action: 'kill_switch.release', actor: 'ops', reason: 'checked' });
      await waitForGovernanceJobs(producer, 1);
      await producer.change({ action: 'kill_switch.engage', actor: 'ops:<!channel>', reason: 'db <failover> & paging <@U123|everyone>' });
      await waitForGovernanceJobs(producer, 2);

      const status = await waitFor(async () => {
        const current = await statusOf(api, moved.id);
        return current.last_error === null ? false : current;
      }, { description: 'the redirect to be refused' });
      expect(status.last_error).toMatchObject({ code: 'HTTP_STATUS', http_status: 302, message: expect.stringContaining('redirects are not followed') });
      expect(redirect.hits.every((hit) => hit.path === '/hook')).toBe(true);

      await waitFor(async () => (await statusOf(api, chat.id)).backlog === 0, { description: 'the slack message delivered' });
      expect(slack.hits).toHaveLength(1);
      const [hit] = slack.hits;
      expect(hit?.path).toBe('/services/T1/B2/slacksecret');
      expect(hit?.headers['content-type']).toBe('application/json');
      const message = JSON.parse(hit!.body) as { text: string; blocks: { type: string; text?: { text: string }; fields?: { text: string }[]; elements?: { url?: string; text: unknown }[] }[] };
      expect(message.blocks.map((block) => block.type)).toEqual(['header', 'section', 'section', 'section', 'context', 'actions']);
      expect(message.blocks[0]?.text?.text).toBe('Kill switch engaged');
      const text = JSON.stringify(message);
      // Escaped: the reason cannot ping @channel or make a link.
      expect(text).not.toMatch(/<!channel>|<@U123/);
      expect(text).toContain('&lt;!channel&gt;');
      expect(text).toContain('db &lt;failover&gt; &amp; paging');
      expect(message.blocks[3]?.text?.text).toMatch(/`kill_switch_engaged`: false → true|`live`/);
      expect(message.blocks[5]?.elements?.[0]?.url).toMatch(/^https:\/\/valhalla\.example\.com\/console\/#\/audit\?before=\d+$/);
      expect(message.text).toContain('Kill switch engaged by ops:&lt;!channel&gt;');
      await worker.close();
    } finally {
      await api.close();
      await redirect.close();
      await slack.close();
    }
  });

  it('never logs a signing secret, a Slack URL or a target\'s query string (api and worker logs, successes and failures)', async () => {
    const { database, prefix, producer } = fixture.current;
    let fails = true;
    const server = await startServer((_request, response) => response.writeHead(fails ? 500 : 204).end());
    const apiLog: string[] = [];
    const api = await startApi(database, {
      env: { ...NOTIFY_ENV, LOG_LEVEL: 'trace' },
      logDestination: new Writable({ write: (chunk: Buffer, _encoding, done) => { apiLog.push(chunk.toString()); done(); } }),
    });
    try {
      const hook = await subscribe(api, { url: `http://127.0.0.1:${server.port}/hook?token=querysecret`, filter: { kinds: ['change'] } });
      const chat = await subscribe(api, { kind: 'slack', url: `http://127.0.0.1:${server.port}/services/T9/B9/slackpathsecret`, filter: { kinds: ['change'] } });
      const rotated = await api.app.inject({ method: 'POST', url: `/api/notifications/subscriptions/${hook.id}/rotate-secret`, headers: bearer(), payload: { reason: 'rotate' } });
      const newSecret = rotated.json<{ secret: string }>().secret;
      const worker = await startWorkerProcess(workerEnv(database, prefix, { ...NOTIFY_ENV, LOG_LEVEL: 'trace' }), 'logging worker');
      await producer.change(burstPayload(3, 'logs'));
      await waitFor(() => server.hits.length >= 4, { description: 'failed attempts' });
      fails = false;
      await waitFor(async () => (await statusOf(api, hook.id)).backlog === 0 && (await statusOf(api, chat.id)).backlog === 0, { description: 'both delivered' });
      await worker.stop('SIGTERM');
      const logs = `${apiLog.join('')}\n${worker.output()}`;
      expect(logs).toContain('notification delivery failed');
      for (const secret of [hook.secret as string, newSecret]) {
        expect(logs).not.toContain(secret);
        expect(logs).not.toContain(secret.slice(6, 26));
      }
      expect(logs).not.toContain('querysecret');
      expect(logs).not.toContain('slackpathsecret');
    } finally {
      await api.close();
      await server.close();
    }
  });
});
