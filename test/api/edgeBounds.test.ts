import { readFileSync } from 'node:fs';
import { connect, type Socket } from 'node:net';
import { Writable } from 'node:stream';
import { beforeAll, describe, expect, it } from 'vitest';
import { appendAuditEntries, createAuditKeyring, sql, type DatabasePool } from '../../packages/core/src/index.js';
import { useTestDatabase } from '../helpers/database.js';
import { REPO_ROOT } from '../helpers/processes.js';
import { testRedisUrl, uniqueQueuePrefix } from '../helpers/redis.js';
import { waitFor } from '../helpers/waitFor.js';
import { openSse } from '../live/sseClient.js';
import { startApiProcess } from './processes.js';
import { DEFAULT_EDGE_BOUNDS } from '../../apps/api/src/index.js';
import { ALICE, startApi } from './support.js';

const database = useTestDatabase({ poolSize: 3 });

const READER = { actor: 'rita', token: 'rita-reader-token-0123456789' } as const;
const METRICS_TOKEN = 'metrics-token-0123456789abcdef';
const PRODUCTION_KEY = { id: 'k1', key: 'edge-test-production-audit-key-0123456789' };

/** The node flags production runs the api with (package.json start:api), e.g. the 160 MB old-space bound. */
const productionNodeFlags = (): string => {
  const scripts = (JSON.parse(readFileSync(`${REPO_ROOT}package.json`, 'utf8')) as { scripts: Record<string, string> }).scripts;
  const words = (scripts['start:api'] ?? '').split(/\s+/);
  const flags = words.slice(words.indexOf('node') + 1).filter((word) => word.startsWith('--'));
  if (!flags.some((flag) => flag.startsWith('--max-old-space-size='))) throw new Error('start:api sets no --max-old-space-size');
  return flags.join(' ');
};
const heapBoundBytes = (flags: string): number => Number(/--max-old-space-size=(\d+)/.exec(flags)?.[1]) * 1024 * 1024;

/** About 300 large audit entries, so that one `limit=200` page is a few hundred kilobytes. */
const fillAuditLog = async (pool: DatabasePool): Promise<void> => {
  const keyring = createAuditKeyring([PRODUCTION_KEY]);
  for (let batch = 0; batch < 3; batch += 1) {
    await pool.transaction((tx) =>
      appendAuditEntries(
        tx,
        Array.from({ length: 100 }, (_, i) => ({
          kind: 'event' as const,
          action: 'test.bulk',
          actor: 'ops',
          reason: `bulk entry ${batch}-${i} ${'r'.repeat(400)}`,
          details: { note: 'n'.repeat(800) },
        })),
        keyring,
      ),
    );
  }
};

/** A client that sends requests and never reads: its socket is paused from the start. */
const pipelineWithoutReading = async (port: number, request: string, count: number): Promise<Socket> => {
  const socket = connect({ host: '127.0.0.1', port });
  socket.on('error', () => {});
  socket.pause();
  await new Promise<void>((resolve, reject) => socket.once('connect', resolve).once('error', reject));
  socket.write(request.repeat(count));
  return socket;
};

/** Reads what a paused client was sent, until the server has closed the connection; resolves with the text. */
const drainUntilClosed = (socket: Socket): Promise<string> =>
  new Promise((resolve) => {
    let text = '';
    socket.on('data', (chunk: Buffer) => {
      text += chunk.toString('latin1');
    });
    socket.once('close', () => resolve(text));
    socket.resume();
  });

// Registered after the database's hooks: the log is filled once the file's database exists.
beforeAll(async () => fillAuditLog(database.current.pool));

/** Reads a paused client's answers until `answers` arrived or the server closed the connection. */
const drainUntil = (socket: Socket, answers: number): Promise<string> =>
  new Promise((resolve) => {
    let text = '';
    const done = () => {
      socket.destroy();
      resolve(text);
    };
    socket.on('data', (chunk: Buffer) => {
      text += chunk.toString('latin1');
      if ((text.match(/HTTP\/1\.1 \d{3} /g)?.length ?? 0) >= answers && text.endsWith('}')) done();
    });
    socket.once('close', done);
    socket.resume();
  });

const heapUsed = async (url: string): Promise<number> => {
  const text = await (await fetch(`${url}/metrics`, { headers: { authorization: `Bearer ${METRICS_TOKEN}` } })).text();
  return Number(/^nodejs_heap_size_used_bytes(?:\{[^}]*\})? (\S+)$/m.exec(text)?.[1]);
};

describe('a production api process against clients that pipeline without reading', () => {
  it('drops each such connection, with and without a token, and stays up below its heap bound', async () => {
    const flags = productionNodeFlags();
    const api = await startApiProcess({
      databaseUrl: database.current.url,
      redisUrl: testRedisUrl(),
      prefix: uniqueQueuePrefix('edge'),
      extra: {
        NODE_ENV: 'production',
        NODE_OPTIONS: flags,
        AUDIT_HMAC_KEYS: `${PRODUCTION_KEY.id}:${PRODUCTION_KEY.key}`,
        READER_TOKENS: `${READER.actor}:${READER.token}`,
        METRICS_TOKEN,
        SOCKET_IDLE_TIMEOUT_MS: '5000',
        LIVE_HEARTBEAT_MS: '1000',
      },
    });
    try {
      const port = Number(new URL(api.url).port);
      const get = (path: string, token?: string) =>
        `GET ${path} HTTP/1.1\r\nHost: x\r\n${token === undefined ? '' : `Authorization: Bearer ${token}\r\n`}\r\n`;
      const attacks = [
        get('/openapi.json'),
        get('/openapi.json'),
        get('/metrics'),
        get('/metrics', METRICS_TOKEN),
        get('/api/governance/audit?limit=200'),
        get('/api/governance/audit?limit=200', READER.token),
        get('/api/governance/audit?limit=200', READER.token),
        get('/api/governance/audit?limit=200', ALICE.token),
      ];
      const baseline = await heapUsed(api.url);
      let peak = baseline;
      const sampler = setInterval(() => {
        heapUsed(api.url).then(
          (used) => (peak = Math.max(peak, used)),
          () => {},
        );
      }, 200);
      let pipelined: Socket[];
      let unread: Socket[];
      try {
        pipelined = await Promise.all(attacks.map((request) => pipelineWithoutReading(port, request, 2_000)));
        // Fewer requests than the pipelining bound, each answer a few hundred kilobytes: whatever the kernel does not
        // take stays queued, up to the bound on unread answers (then the connection is dropped).
        unread = await Promise.all([1, 2, 3].map(() => pipelineWithoutReading(port, get('/api/governance/audit?limit=200', READER.token), 12)));
        // Each pipelining connection is ended by the server: dropped at the pipelining bound when the kernel hands
        // over enough requests at once, else (fewer parsed before Node stops reading for the unread answers) dropped
        // by the bound on unread answers or closed as idle once nothing moves.
        const endedPorts = () =>
          new Set(
            api.process
              .logLines()
              .filter((line) => typeof line.msg === 'string' && /^connection (dropped|closed: idle)/.test(line.msg))
              .map((line) => line.remotePort),
          );
        await waitFor(() => pipelined.every((socket) => endedPorts().has(socket.localPort)), {
          timeoutMs: 30_000,
          description: `the ${attacks.length} pipelining connections ended by the server`,
        });
        expect(api.process.logLines().filter((line) => line.msg === 'connection dropped: too many pipelined requests').length).toBeGreaterThan(0);
        // Each pipelining client gets what was written before its connection was dropped, then the end: never 2,000
        // answers. An unread client gets its twelve answers, or the end of a connection dropped for not reading.
        for (const text of await Promise.all(pipelined.map(drainUntilClosed))) {
          expect(text.match(/HTTP\/1\.1 \d{3} /g)?.length ?? 0).toBeLessThanOrEqual(16);
        }
        for (const text of await Promise.all(unread.map((socket) => drainUntil(socket, 12)))) {
          expect(text.match(/HTTP\/1\.1 \d{3} /g)?.length ?? 0).toBeLessThanOrEqual(12);
        }
      } finally {
        clearInterval(sampler);
      }

      expect(api.process.child.exitCode).toBeNull();
      expect((await fetch(`${api.url}/health`)).status).toBe(200);
      peak = Math.max(peak, await heapUsed(api.url));
      expect(peak).toBeLessThan(heapBoundBytes(flags));
      expect(api.process.output()).not.toMatch(/heap out of memory/i);
    } finally {
      await api.process.stop();
    }
  }, 120_000);

  it('serves /metrics in production only with METRICS_TOKEN: without it the route is closed (404)', async () => {
    const api = await startApiProcess({
      databaseUrl: database.current.url,
      redisUrl: testRedisUrl(),
      prefix: uniqueQueuePrefix('edge'),
      extra: { NODE_ENV: 'production', AUDIT_HMAC_KEYS: `${PRODUCTION_KEY.id}:${PRODUCTION_KEY.key}` },
    });
    try {
      for (const headers of [{}, { authorization: `Bearer ${ALICE.token}` }]) {
        const response = await fetch(`${api.url}/metrics`, { headers });
        expect(response.status).toBe(404);
        const body = (await response.json()) as { error: { code: string; message: string } };
        expect(body.error.code).toBe('NOT_FOUND');
        expect(body.error.message).toMatch(/METRICS_TOKEN/);
      }
    } finally {
      await api.process.stop();
    }
  }, 60_000);
});

describe('the bound on answers queued for clients that do not read', () => {
  const logged = () => {
    const lines: Record<string, unknown>[] = [];
    const destination = new Writable({
      write(chunk: Buffer, _encoding, done) {
        for (const line of chunk.toString().split('\n')) if (line.startsWith('{')) lines.push(JSON.parse(line) as Record<string, unknown>);
        done();
      },
    });
    return { lines, destination };
  };
  // Sixty pages of a few hundred kilobytes each: far more than the kernel buffers for a client that does not read.
  const sixtyPages = `GET /api/governance/audit?limit=200 HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer ${ALICE.token}\r\n\r\n`;

  it('drops a connection once its unread answers pass the per-connection bound', async () => {
    const log = logged();
    const api = await startApi(database.current, {
      env: { LOG_LEVEL: 'warn' },
      logDestination: log.destination,
      server: { edgeBounds: { ...DEFAULT_EDGE_BOUNDS, maxPipelinedRequests: 100 } },
    });
    try {
      await api.app.listen({ host: '127.0.0.1', port: 0 });
      const port = (api.app.server.address() as { port: number }).port;
      const socket = await pipelineWithoutReading(port, sixtyPages, 60);
      const drop = await waitFor(() => log.lines.find((line) => line.msg === 'connection dropped: the client does not read its answers'), {
        timeoutMs: 20_000,
        description: 'the connection dropped',
      });
      expect(drop).toMatchObject({ limit: DEFAULT_EDGE_BOUNDS.maxQueuedBytesPerConnection, queuedBytes: expect.any(Number) });
      const text = await drainUntilClosed(socket);
      expect(text.match(/HTTP\/1\.1 200 /g)?.length ?? 0).toBeLessThan(60);
    } finally {
      await api.close();
    }
  });

  it('drops connections once the unread answers of all of them pass the total bound, each under its own', async () => {
    const log = logged();
    const api = await startApi(database.current, {
      env: { LOG_LEVEL: 'warn' },
      logDestination: log.destination,
      server: { edgeBounds: { ...DEFAULT_EDGE_BOUNDS, maxPipelinedRequests: 100, maxQueuedBytesPerConnection: 64 * 1024 ** 2, maxQueuedBytesTotal: 2 * 1024 ** 2 } },
    });
    try {
      await api.app.listen({ host: '127.0.0.1', port: 0 });
      const port = (api.app.server.address() as { port: number }).port;
      const sockets = await Promise.all([1, 2, 3].map(() => pipelineWithoutReading(port, sixtyPages, 60)));
      const drop = await waitFor(
        () => log.lines.find((line) => line.msg === 'connection dropped: answers queued for clients that do not read exceed the total bound'),
        { timeoutMs: 20_000, description: 'a connection dropped by the total bound' },
      );
      expect(drop).toMatchObject({ limit: 2 * 1024 ** 2 });
      for (const socket of sockets) socket.destroy();
    } finally {
      await api.close();
    }
  });
});

describe('idle connections and streams (SOCKET_IDLE_TIMEOUT_MS)', () => {
  it('closes a connection that stopped reading its answers, with a request left half sent behind them', async () => {
    // The bounds on pipelining and on unread answers are widened here, so that only inactivity can end the connection.
    const api = await startApi(database.current, {
      env: { SOCKET_IDLE_TIMEOUT_MS: '1500', LIVE_HEARTBEAT_MS: '500', REQUEST_TIMEOUT_MS: '600000', HEADERS_TIMEOUT_MS: '600000' },
      server: { edgeBounds: { ...DEFAULT_EDGE_BOUNDS, maxPipelinedRequests: 100, maxQueuedBytesPerConnection: 1024 ** 3, maxQueuedBytesTotal: 1024 ** 3 } },
    });
    try {
      await api.app.listen({ host: '127.0.0.1', port: 0 });
      const port = (api.app.server.address() as { port: number }).port;
      // Sixty pages of a few hundred kilobytes: far more than the kernel buffers for a client that does not read.
      const socket = await pipelineWithoutReading(port, `GET /api/governance/audit?limit=200 HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer ${ALICE.token}\r\n\r\n`, 60);
      socket.write('GET /health HTTP/1.1\r\nHo');
      const connections = () => new Promise<number>((resolve, reject) => api.app.server.getConnections((error, count) => (error ? reject(error) : resolve(count))));
      await waitFor(async () => (await connections()) === 1, { description: 'the connection accepted' });
      // Neither the request nor the headers timeout applies (both 10 minutes here): only inactivity ends it.
      await waitFor(async () => (await connections()) === 0, { timeoutMs: 15_000, description: 'the idle connection closed' });
      socket.destroy();
    } finally {
      await api.close();
    }
  });

  it('does not cut a request the server is still handling, however long it takes', async () => {
    let release: () => void = () => {};
    const released = new Promise<void>((resolve) => {
      release = resolve;
    });
    const api = await startApi(database.current, {
      env: { SOCKET_IDLE_TIMEOUT_MS: '1500', LIVE_HEARTBEAT_MS: '500' },
      server: {
        extraApiRoutes: [
          async (scope) => {
            scope.get('/test/slow', async () => {
              await released;
              return { done: true };
            });
          },
        ],
      },
    });
    try {
      const url = await api.app.listen({ host: '127.0.0.1', port: 0 });
      const port = (api.app.server.address() as { port: number }).port;
      const slow = fetch(`${url}/api/test/slow`, { headers: { authorization: `Bearer ${ALICE.token}` } });
      // A connection that sends nothing is closed by the idle timeout: proof that the period passed meanwhile.
      const silent = connect({ host: '127.0.0.1', port });
      silent.on('error', () => {});
      await new Promise<void>((resolve) => silent.once('close', () => resolve()));
      release();
      const response = await slow;
      expect(response.status).toBe(200);
      expect(await response.json()).toEqual({ done: true });
    } finally {
      release();
      await api.close();
    }
  });

  it('keeps an open stream (only heartbeats) past the idle timeout', async () => {
    const api = await startApi(database.current, { env: { SOCKET_IDLE_TIMEOUT_MS: '1500', LIVE_HEARTBEAT_MS: '250' } });
    try {
      const url = await api.app.listen({ host: '127.0.0.1', port: 0 });
      const stream = await openSse(`${url}/api/governance/stream`, { token: ALICE.token });
      await stream.waitForEvents(1);
      // Fourteen heartbeats are 3.5 s: more than twice the idle timeout without any event on the stream.
      await waitFor(() => stream.comments.filter((comment) => comment === 'heartbeat').length >= 14, { timeoutMs: 15_000, description: 'fourteen heartbeats' });
      expect(stream.isEnded()).toBe(false);
      await stream.close();
    } finally {
      await api.close();
    }
  });

  it('still drops a stream client that does not read (256 KiB unsent), the idle timeout notwithstanding', async () => {
    const lines: string[] = [];
    const logDestination = new Writable({
      write(chunk: Buffer, _encoding, done) {
        lines.push(chunk.toString());
        done();
      },
    });
    const api = await startApi(database.current, { env: { LOG_LEVEL: 'warn' }, logDestination });
    try {
      await api.app.listen({ host: '127.0.0.1', port: 0 });
      const port = (api.app.server.address() as { port: number }).port;
      const socket = await pipelineWithoutReading(port, `GET /api/governance/stream HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer ${ALICE.token}\r\n\r\n`, 1);
      // Large state events: each write of a 6,000-character reason outside the product is one event on the stream.
      let round = 0;
      await waitFor(
        async () => {
          round += 1;
          await database.current.pool.query(sql.unsafe`
            UPDATE public.go_live_state SET reason = ${`${round} ${'x'.repeat(6_000)}`} WHERE id = 1`);
          return lines.some((line) => line.includes('live stream client is not reading; dropping it'));
        },
        { timeoutMs: 50_000, intervalMs: 1, description: 'the non-reading stream dropped' },
      );
      socket.destroy();
    } finally {
      await api.close();
    }
  }, 60_000);
});
