import { connect, type Socket } from 'node:net';
import { Writable } from 'node:stream';
import type { FastifyInstance } from 'fastify';
import { describe, expect, it } from 'vitest';
import { ADMIN_SESSION_COOKIE } from '../../apps/api/src/admin/adminRoutes.js';
import { waitFor } from '../helpers/waitFor.js';
import { ALICE, bearer, quitRedis, startApi } from './support.js';
import { useTestDatabase } from '../helpers/database.js';

const database = useTestDatabase();

/** Listens on an ephemeral port of 127.0.0.1; returns the port. */
const listen = async (app: FastifyInstance): Promise<number> => {
  await app.listen({ host: '127.0.0.1', port: 0 });
  const address = app.server.address();
  if (address === null || typeof address === 'string') throw new Error('no port');
  return address.port;
};

/** A raw TCP client: what it received, and whether the server closed the connection. */
const rawClient = async (port: number) => {
  const socket: Socket = connect({ host: '127.0.0.1', port });
  await new Promise<void>((resolve, reject) => socket.once('connect', resolve).once('error', reject));
  const state = { received: '', closed: false };
  socket.on('data', (chunk) => (state.received += chunk.toString()));
  socket.on('error', () => {});
  socket.on('close', () => (state.closed = true));
  return { socket, state };
};

const bodyOf = (raw: string): unknown => JSON.parse(raw.slice(raw.indexOf('\r\n\r\n') + 4));

describe('request timeouts', () => {
  it('cuts slow bodies after REQUEST_TIMEOUT_MS with 408 in the contract shape, with or without a token', async () => {
    const api = await startApi(database.current, { env: { REQUEST_TIMEOUT_MS: '1500', HEADERS_TIMEOUT_MS: '1000' } });
    try {
      const port = await listen(api.app);
      const clients = await Promise.all(
        Array.from({ length: 6 }, async (_, i) => {
          const client = await rawClient(port);
          const auth = i % 2 === 0 ? `Authorization: Bearer ${ALICE.token}\r\n` : '';
          client.socket.write(
            `POST /api/governance/kill-switch HTTP/1.1\r\nHost: x\r\n${auth}Content-Type: application/json\r\nContent-Length: 1000\r\n\r\n{`,
          );
          return client;
        }),
      );
      // Keep trickling a byte at a time, as a slow-body attack does.
      const trickle = setInterval(() => {
        for (const client of clients) if (!client.state.closed) client.socket.write(' ');
      }, 200);
      const started = Date.now();
      try {
        await waitFor(() => clients.every((client) => client.state.closed), { timeoutMs: 8_000, intervalMs: 50, description: 'every slow connection closed' });
      } finally {
        clearInterval(trickle);
      }
      expect(Date.now() - started).toBeGreaterThanOrEqual(1_000);
      clients.forEach((client, i) => {
        if (i % 2 === 0) {
          expect(client.state.received).toMatch(/^HTTP\/1\.1 408 /);
          expect(bodyOf(client.state.received)).toEqual({
            error: { code: 'REQUEST_TIMEOUT', message: 'the request was not received within the request timeout' },
          });
        } else {
          // Without a token the answer (401) comes before the body; the connection is still closed by the timeout.
          expect(client.state.received).toMatch(/^HTTP\/1\.1 401 /);
        }
      });
    } finally {
      await api.close();
    }
  });

  it('does not cut a long response: only receiving the request is bounded', async () => {
    // The response stays open until a request sent after it has been cut by the request timeout: proof that the
    // timeout window passed while the response was being written, without a fixed pause.
    let finishResponse: () => void = () => {};
    const timeoutSeen = new Promise<void>((resolve) => {
      finishResponse = resolve;
    });
    const api = await startApi(database.current, {
      env: { REQUEST_TIMEOUT_MS: '1000', HEADERS_TIMEOUT_MS: '1000' },
      server: {
        extraApiRoutes: [
          async (scope) => {
            scope.get('/test/slow-stream', async (_request, reply) => {
              reply.raw.writeHead(200, { 'content-type': 'text/plain' });
              reply.raw.write('tick 0\n');
              await timeoutSeen;
              reply.raw.end('done\n');
              return reply;
            });
          },
        ],
      },
    });
    try {
      const port = await listen(api.app);
      const response = await fetch(`http://127.0.0.1:${port}/api/test/slow-stream`, { headers: bearer() });
      expect(response.status).toBe(200);
      const text = response.text();
      const slow = await rawClient(port);
      slow.socket.write(`POST /api/governance/kill-switch HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer ${ALICE.token}\r\nContent-Type: application/json\r\nContent-Length: 1000\r\n\r\n{`);
      await waitFor(() => slow.state.closed, { timeoutMs: 8_000, description: 'the slow request cut by the request timeout' });
      expect(slow.state.received).toMatch(/^HTTP\/1\.1 408 /);
      finishResponse();
      expect(await text).toBe('tick 0\ndone\n');
    } finally {
      await api.close();
    }
  });
});

describe('answers Node gives before routing', () => {
  it('answers a malformed request 400 and oversized headers 431 in the contract shape', async () => {
    const api = await startApi(database.current);
    try {
      const port = await listen(api.app);
      const malformed = await rawClient(port);
      malformed.socket.write('NOT A REQUEST\r\n\r\n');
      await waitFor(() => malformed.state.closed, { timeoutMs: 5_000, description: 'malformed request answered' });
      expect(malformed.state.received).toMatch(/^HTTP\/1\.1 400 /);
      expect(bodyOf(malformed.state.received)).toEqual({ error: { code: 'VALIDATION_FAILED', message: 'malformed HTTP request' } });

      const oversized = await rawClient(port);
      oversized.socket.write(`GET /health HTTP/1.1\r\nHost: x\r\nX-Big: ${'a'.repeat(20_000)}\r\n\r\n`);
      await waitFor(() => oversized.state.closed, { timeoutMs: 5_000, description: 'oversized headers answered' });
      expect(oversized.state.received).toMatch(/^HTTP\/1\.1 431 /);
      expect(bodyOf(oversized.state.received)).toEqual({ error: { code: 'HEADERS_TOO_LARGE', message: 'the request headers exceed the size limit' } });
    } finally {
      await api.close();
    }
  });

  it('answers the queue dashboard own errors (404, and 500 without a stack) in the contract shape', async () => {
    const api = await startApi(database.current);
    const missing = await api.app.inject({ method: 'GET', url: '/admin/queues/api/queues/governance/no-such-job', headers: bearer() });
    expect(missing.statusCode).toBe(404);
    expect(missing.json()).toEqual({ error: { code: 'NOT_FOUND', message: expect.any(String) } });
    await api.close();

    const broken = await startApi(database.current);
    try {
      await quitRedis(broken.redis);
      const failed = await broken.app.inject({ method: 'GET', url: '/admin/queues/api/queues', headers: bearer() });
      expect(failed.statusCode).toBe(500);
      expect(failed.json()).toEqual({ error: { code: 'INTERNAL_ERROR', message: expect.stringMatching(/^internal error; reported in the server log under request id /) } });
      expect(failed.body).not.toMatch(/at .*\.js|stack|Connection is closed/);
    } finally {
      await broken.close();
    }
  });
});

describe('no raw bytes into a started answer', () => {
  it('closes an open stream without writing a 408 into it when a request pipelined behind it times out', async () => {
    const api = await startApi(database.current, { env: { REQUEST_TIMEOUT_MS: '1000', HEADERS_TIMEOUT_MS: '1000', LIVE_HEARTBEAT_MS: '100' } });
    try {
      const port = await listen(api.app);
      const client = await rawClient(port);
      client.socket.write(`GET /api/governance/stream HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer ${ALICE.token}\r\n\r\n`);
      await waitFor(() => client.state.received.includes('event: state'), { description: 'the stream open' });
      // A request behind the stream whose body never completes: the request timeout fires while the stream is written.
      client.socket.write(`POST /api/governance/kill-switch HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer ${ALICE.token}\r\nContent-Type: application/json\r\nContent-Length: 100\r\n\r\n{`);
      await waitFor(() => client.state.closed, { timeoutMs: 8_000, description: 'the connection closed' });
      expect(client.state.received).toMatch(/^HTTP\/1\.1 200 /);
      expect(client.state.received).not.toMatch(/HTTP\/1\.1 408/);
      expect(client.state.received).not.toContain('REQUEST_TIMEOUT');
    } finally {
      await api.close();
    }
  });
});

describe('client address behind a proxy (TRUST_PROXY)', () => {
  const badLogin = (app: FastifyInstance, client: string) =>
    app.inject({
      method: 'POST',
      url: '/admin/login',
      remoteAddress: '10.0.0.2',
      headers: { 'content-type': 'application/json', 'x-forwarded-for': client },
      payload: { token: 'not-a-token' },
    });

  it('limits admin logins per real client: one client locked out does not lock out the others', async () => {
    const api = await startApi(database.current, { env: { TRUST_PROXY: '1', RATE_LIMIT_PER_MINUTE: '1000000' } });
    try {
      for (let i = 0; i < 30; i += 1) expect((await badLogin(api.app, '203.0.113.7')).statusCode).toBe(401);
      const locked = await badLogin(api.app, '203.0.113.7');
      expect(locked.statusCode).toBe(429);
      expect(locked.json().error.code).toBe('RATE_LIMITED');
      expect((await badLogin(api.app, '198.51.100.9')).statusCode).toBe(401);
      const good = await api.app.inject({
        method: 'POST',
        url: '/admin/login',
        remoteAddress: '10.0.0.2',
        headers: { 'content-type': 'application/json', 'x-forwarded-for': '198.51.100.10' },
        payload: { token: ALICE.token },
      });
      expect(good.statusCode).toBe(200);
    } finally {
      await api.close();
    }
  });

  it('ignores X-Forwarded-For without TRUST_PROXY (a client cannot pick its own address)', async () => {
    const api = await startApi(database.current, { env: { RATE_LIMIT_PER_MINUTE: '1000000' } });
    try {
      for (let i = 0; i < 30; i += 1) expect((await badLogin(api.app, `203.0.113.${i}`)).statusCode).toBe(401);
      expect((await badLogin(api.app, '198.51.100.9')).statusCode).toBe(429);
    } finally {
      await api.close();
    }
  });
});

describe('/metrics and /docs switches', () => {
  it('needs METRICS_TOKEN as a bearer token when it is set, and serves no docs with DOCS_ENABLED=false', async () => {
    const metricsToken = 'metrics-token-0123456789abcdef';
    const api = await startApi(database.current, { env: { METRICS_TOKEN: metricsToken, DOCS_ENABLED: 'false' } });
    try {
      const refused = await api.app.inject({ method: 'GET', url: '/metrics' });
      expect(refused.statusCode).toBe(401);
      expect(refused.json()).toEqual({ error: { code: 'UNAUTHENTICATED', message: 'GET /metrics needs Authorization: Bearer <METRICS_TOKEN>' } });
      expect((await api.app.inject({ method: 'GET', url: '/metrics', headers: bearer() })).statusCode).toBe(401);
      const allowed = await api.app.inject({ method: 'GET', url: '/metrics', headers: { authorization: `Bearer ${metricsToken}` } });
      expect(allowed.statusCode).toBe(200);
      expect(allowed.body).toContain('valhalla_');
      for (const url of ['/docs', '/docs/', '/openapi.json']) {
        const response = await api.app.inject({ method: 'GET', url });
        expect(response.statusCode, url).toBe(404);
        expect(response.json().error.code).toBe('NOT_FOUND');
      }
    } finally {
      await api.close();
    }
  });

  it('keeps /metrics and /docs public by default', async () => {
    const api = await startApi(database.current);
    try {
      expect((await api.app.inject({ method: 'GET', url: '/metrics' })).statusCode).toBe(200);
      expect((await api.app.inject({ method: 'GET', url: '/openapi.json' })).statusCode).toBe(200);
    } finally {
      await api.close();
    }
  });
});

describe('tokens in logs', () => {
  it('writes no token to any log line at LOG_LEVEL=trace, from a header, the query string or a cookie', async () => {
    const lines: string[] = [];
    const destination = new Writable({
      write(chunk: Buffer, _encoding, done) {
        lines.push(...chunk.toString().split('\n').filter((line) => line.length > 0));
        done();
      },
    });
    const wrongToken = 'wrong-token-that-is-long-enough-0123';
    const api = await startApi(database.current, { env: { LOG_LEVEL: 'trace' }, logDestination: destination });
    let session = '';
    try {
      const port = await listen(api.app);
      const base = `http://127.0.0.1:${port}`;
      expect((await fetch(`${base}/api/governance/runbook/status`, { headers: bearer() })).status).toBe(200);
      expect((await fetch(`${base}/api/governance/runbook/status`, { headers: bearer(wrongToken) })).status).toBe(401);
      expect((await fetch(`${base}/api/governance/audit?access_token=${ALICE.token}&limit=5`)).status).toBe(401);
      expect((await fetch(`${base}/api/governance/audit?limit=5&token=${ALICE.token}`, { headers: bearer() })).status).toBe(400);
      const login = await fetch(`${base}/admin/login`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ token: ALICE.token }) });
      expect(login.status).toBe(200);
      session = new RegExp(`${ADMIN_SESSION_COOKIE}=([^;]+)`).exec(login.headers.get('set-cookie') ?? '')?.[1] ?? '';
      expect(session.length).toBeGreaterThan(20);
      expect((await fetch(`${base}/admin/queues/api/queues`, { headers: { cookie: `${ADMIN_SESSION_COOKIE}=${session}` } })).status).toBe(200);
      const malformed = await rawClient(port);
      malformed.socket.write(`GET /health HTTP/1.1\r\nAuthorization: Bearer ${ALICE.token}\r\nBad Header\r\n\r\n`);
      await waitFor(() => malformed.state.closed, { timeoutMs: 5_000, description: 'malformed request answered' });
    } finally {
      await api.close();
    }
    // The requests were logged (so the check below has something to look at), the query string with its values hidden.
    expect(lines.some((line) => line.includes('"url":"/api/governance/audit?access_token=[redacted]&limit=5"'))).toBe(true);
    expect(lines.some((line) => line.includes('client error answered before routing'))).toBe(true);
    for (const secret of [ALICE.token, wrongToken, session]) {
      expect(lines.filter((line) => line.includes(secret))).toEqual([]);
    }
  });
});
