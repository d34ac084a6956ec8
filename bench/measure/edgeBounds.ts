import { readFileSync } from 'node:fs';
import { connect, type Socket } from 'node:net';
import { freePort, productionNodeFlags, startProcess } from '../lib/environment.ts';
import { round } from '../lib/stats.ts';
import type { BenchContext, Row } from './context.ts';

const rssMb = (pid: number | undefined): number => Number(/VmRSS:\s+(\d+)/.exec(readFileSync(`/proc/${pid}/status`, 'utf8'))?.[1]) / 1024;

/**
 * (9) The edge against clients that pipeline without reading: an api of its own (production flags and mode) takes C
 * connections, each pipelining N `GET /openapi.json` (a 60 kB answer) and never reading. Reported: its peak RSS
 * against its RSS before, and the connections it ended (dropped at a bound, or closed as idle). Without the bounds, three such connections of 1,600
 * requests took it past its heap bound.
 */
export const measureEdgeBounds = async (ctx: BenchContext): Promise<Row[]> => {
  const connections = ctx.quick ? 2 : 8;
  const requests = ctx.quick ? 500 : 2_000;
  const port = await freePort();
  const api = startProcess(
    'apps/api/dist/main.js',
    {
      NODE_ENV: 'production',
      AUDIT_HMAC_KEYS: ctx.auditKeys,
      DATABASE_URL: ctx.databaseUrl,
      REDIS_URL: ctx.redisUrl,
      BULLMQ_PREFIX: ctx.prefix,
      LOG_LEVEL: 'warn',
      PORT: String(port),
      HOST: '127.0.0.1',
      GOVERNANCE_TOKENS: `bench:${ctx.token}`,
      // A connection the kernel fed fewer requests than the pipelining bound is closed as idle instead: sooner here.
      SOCKET_IDLE_TIMEOUT_MS: '5000',
      LIVE_HEARTBEAT_MS: '1000',
    },
    productionNodeFlags('start:api'),
  );
  const sockets: Socket[] = [];
  try {
    for (let i = 0; ; i += 1) {
      if (await fetch(`http://127.0.0.1:${port}/health`).then((r) => r.ok, () => false)) break;
      if (i > 300) throw new Error(`edge api did not become healthy: ${api.output().slice(-2000)}`);
      await new Promise((resolve) => setTimeout(resolve, 100));
    }
    for (let i = 0; i < 20; i += 1) await (await fetch(`http://127.0.0.1:${port}/openapi.json`)).text();
    const before = rssMb(api.child.pid);
    const request = 'GET /openapi.json HTTP/1.1\r\nHost: bench\r\n\r\n'.repeat(requests);
    for (let i = 0; i < connections; i += 1) {
      const socket = connect({ host: '127.0.0.1', port });
      socket.on('error', () => {});
      socket.pause();
      socket.once('connect', () => socket.write(request));
      sockets.push(socket);
    }
    const dropped = () => (api.output().match(/connection (dropped|closed: idle)/g) ?? []).length;
    const deadline = Date.now() + 30_000;
    while (dropped() < connections && Date.now() < deadline && api.child.exitCode === null) {
      await new Promise((resolve) => setTimeout(resolve, 50));
    }
    const alive = await fetch(`http://127.0.0.1:${port}/health`).then((r) => r.ok, () => false);
    const peak = api.peakRssMb();
    return [
      {
        measure: `api peak RSS while ${connections} connections pipeline ${requests} requests each without reading`,
        value: round(peak, 1),
        unit: 'MB',
        baseline: round(before, 1),
        ratio: round(peak / before, 2),
        target: '< 150 MB and the api answers',
        met: peak < 150 && alive,
      },
      { measure: 'connections ended by the edge bounds (of those pipelining)', value: dropped(), unit: 'connections', target: `= ${connections}`, met: dropped() === connections },
    ];
  } finally {
    for (const socket of sockets) socket.destroy();
    await api.stop();
  }
};
