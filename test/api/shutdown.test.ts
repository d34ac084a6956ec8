import { connect, type Socket } from 'node:net';
import { describe, expect, it } from 'vitest';
import { useTestDatabase } from '../helpers/database.js';
import { testRedisUrl, uniqueQueuePrefix } from '../helpers/redis.js';
import { waitFor } from '../helpers/waitFor.js';
import { ALICE } from './support.js';
import { startApiProcess } from './processes.js';

const database = useTestDatabase({ poolSize: 2 });

/** What a raw socket received so far, and all of it once the server closed the connection. */
const receiving = (socket: Socket): { text: Promise<string>; sofar: () => string } => {
  let text = '';
  socket.on('data', (chunk: Buffer) => {
    text += chunk.toString();
  });
  socket.on('error', () => {});
  return { text: new Promise((resolve) => socket.once('close', () => resolve(text))), sofar: () => text };
};

const waitForText = (response: { sofar: () => string }, pattern: RegExp) =>
  waitFor(() => pattern.test(response.sofar()), { description: `a response matching ${pattern}` });

/** Reads a whole HTTP/1.1 response from a raw socket (the server closes the connection after it). */
const readResponse = (socket: Socket): Promise<string> =>
  new Promise((resolve, reject) => {
    let text = '';
    socket.on('data', (chunk: Buffer) => {
      text += chunk.toString();
    });
    socket.once('error', reject);
    socket.once('close', () => resolve(text));
  });

describe('graceful shutdown of the api process', () => {
  it('finishes an in-flight request, refuses new ones, closes everything and exits 0 on SIGTERM', async () => {
    const api = await startApiProcess({ databaseUrl: database.current.url, redisUrl: testRedisUrl(), prefix: uniqueQueuePrefix('shutdown') });
    const { port } = new URL(api.url);
    const body = JSON.stringify({ engaged: true, reason: 'slow client during shutdown' });
    const half = Math.floor(body.length / 2);

    // A slow client: headers and half of the body now, the rest after SIGTERM. The request is in flight meanwhile.
    const socket = connect({ host: '127.0.0.1', port: Number(port) });
    const response = readResponse(socket);
    await new Promise((resolve) => socket.once('connect', resolve));
    socket.write(
      `POST /api/governance/kill-switch HTTP/1.1\r\nHost: 127.0.0.1\r\nAuthorization: Bearer ${ALICE.token}\r\n` +
        `Content-Type: application/json\r\nContent-Length: ${Buffer.byteLength(body)}\r\n\r\n${body.slice(0, half)}`,
    );
    await api.process.waitForOutput(/incoming request/);

    api.process.child.kill('SIGTERM');
    await api.process.waitForOutput(/shutting down/);

    // New requests: refused at the socket (the listener is closed) or answered 503 SHUTTING_DOWN.
    const fresh = await fetch(`${api.url}/health`).then(
      async (r) => ({ status: r.status, body: (await r.json()) as { error?: { code: string } } }),
      () => ({ status: 'refused' as const, body: {} }),
    );
    if (fresh.status !== 'refused') {
      expect(fresh.status).toBe(503);
      expect(fresh.body.error?.code).toBe('SHUTTING_DOWN');
    }
    expect(api.process.child.exitCode).toBeNull();

    socket.write(body.slice(half));
    const text = await response;
    // An engage: applied in the request before the answer.
    expect(text).toMatch(/^HTTP\/1\.1 200/);
    expect(text).toMatch(/"status":"completed"/);

    expect(await api.process.exited).toEqual({ code: 0, signal: null });
    expect(api.process.logLines().find((line) => line.msg === 'api stopped')).toMatchObject({
      completed: ['http server (drain in-flight requests)', 'queues', 'redis', 'database pool'],
      failed: [],
    });
  });

  it('answers 503 SHUTTING_DOWN to a request that arrives on a kept-alive connection during the drain', async () => {
    const api = await startApiProcess({ databaseUrl: database.current.url, redisUrl: testRedisUrl(), prefix: uniqueQueuePrefix('shutdown') });
    const { port } = new URL(api.url);
    const body = JSON.stringify({ engaged: true, reason: 'hold the server open' });
    // One slow request keeps the server draining; a second connection sends a complete request meanwhile.
    const slow = connect({ host: '127.0.0.1', port: Number(port) });
    const slowResponse = readResponse(slow);
    const eager = connect({ host: '127.0.0.1', port: Number(port) });
    const eagerResponse = readResponse(eager);
    await Promise.all([new Promise((r) => slow.once('connect', r)), new Promise((r) => eager.once('connect', r))]);
    slow.write(
      `POST /api/governance/kill-switch HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer ${ALICE.token}\r\n` +
        `Content-Type: application/json\r\nContent-Length: ${Buffer.byteLength(body)}\r\n\r\n${body.slice(0, 5)}`,
    );
    // The eager connection has sent part of its request line, so it is not idle when the server starts closing.
    eager.write('GET /health HTTP/1.1\r\n');
    await api.process.waitForOutput(/incoming request/);
    api.process.child.kill('SIGTERM');
    await api.process.waitForOutput(/shutting down/);
    eager.write('Host: x\r\n\r\n');
    const eagerText = await eagerResponse;
    expect(eagerText).toMatch(/^HTTP\/1\.1 503/);
    expect(eagerText).toMatch(/"code":"SHUTTING_DOWN"/);
    slow.write(body.slice(5));
    expect(await slowResponse).toMatch(/^HTTP\/1\.1 200/);
    expect(await api.process.exited).toEqual({ code: 0, signal: null });
  });
});

describe('shutdown with requests that never finish arriving', () => {
  it('closes them instead of waiting out the drain deadline: early-answered bodies at once, the rest after the receive grace', async () => {
    const api = await startApiProcess({
      databaseUrl: database.current.url,
      redisUrl: testRedisUrl(),
      prefix: uniqueQueuePrefix('shutdown'),
      extra: { SHUTDOWN_TIMEOUT_MS: '25000', REQUEST_TIMEOUT_MS: '300000', HEADERS_TIMEOUT_MS: '300000' },
    });
    const { port } = new URL(api.url);
    const open = async (text: string) => {
      const socket = connect({ host: '127.0.0.1', port: Number(port) });
      const response = receiving(socket);
      await new Promise((resolve) => socket.once('connect', resolve));
      socket.write(text);
      return { socket, response };
    };
    const partialBody = (auth: string) =>
      `POST /api/governance/kill-switch HTTP/1.1\r\nHost: x\r\n${auth}Content-Type: application/json\r\nContent-Length: 1000\r\n\r\n{"engaged": true,`;
    // Without a token: answered 401 before the body, which never comes. With a token: a body that never completes.
    // And a request whose headers never complete.
    const unauthenticated = await Promise.all([1, 2, 3].map(() => open(partialBody(''))));
    const authenticated = await open(partialBody(`Authorization: Bearer ${ALICE.token}\r\n`));
    const headersOnly = await open('GET /health HTTP/1.1\r\nHost: x\r\n');
    await Promise.all(unauthenticated.map(({ response }) => waitForText(response, /^HTTP\/1\.1 401 /)));

    const started = Date.now();
    api.process.child.kill('SIGTERM');
    for (const { response } of unauthenticated) expect(await response.text).toMatch(/^HTTP\/1\.1 401 /);
    const unauthenticatedClosedMs = Date.now() - started;
    await Promise.all([authenticated.response.text, headersOnly.response.text]);
    expect(await api.process.exited).toEqual({ code: 0, signal: null });
    const stoppedMs = Date.now() - started;
    expect(api.process.logLines().find((line) => line.msg === 'api stopped')).toMatchObject({ failed: [] });
    // The drain deadline is 25 s; these connections used to hold the process for all of it.
    expect(unauthenticatedClosedMs).toBeLessThan(2_000);
    expect(stoppedMs).toBeLessThan(12_500);
  });
});
