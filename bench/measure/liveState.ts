import http from 'node:http';
import autocannon from 'autocannon';
import pg from 'pg';
import { readFileSync } from 'node:fs';
import { postJson } from '../lib/http.ts';
import { median, percentile, round } from '../lib/stats.ts';
import type { BenchContext, Row } from './context.ts';

/** One stream client as an application would hold it: the last `live` it was told, and when it learnt it. */
type StreamClient = { live: () => boolean | undefined; seenLiveAt: (live: boolean) => number | undefined; close: () => void };

const LIVE_FIELD = /"live":(true|false)/g;

/** Called whenever any client learns a `live` value: the waits below are woken by it instead of spinning. */
let onLiveReceived: () => void = () => {};

/** Opens a stream on its own connection; records the time each `live` value was last received. */
const openStream = (apiUrl: string, token: string): Promise<StreamClient> =>
  new Promise((resolve, reject) => {
    let live: boolean | undefined;
    const seen = new Map<boolean, number>();
    const request = http.request(`${apiUrl}/api/governance/stream`, {
      headers: { authorization: `Bearer ${token}`, accept: 'text/event-stream' },
      agent: false,
    });
    request.once('error', reject);
    request.once('response', (response) => {
      if (response.statusCode !== 200) {
        reject(new Error(`stream answered ${response.statusCode}`));
        response.resume();
        return;
      }
      response.setEncoding('utf8');
      const client: StreamClient = {
        live: () => live,
        seenLiveAt: (value) => seen.get(value),
        close: () => request.destroy(),
      };
      response.on('data', (chunk: string) => {
        const now = performance.now();
        for (const match of chunk.matchAll(LIVE_FIELD)) {
          live = match[1] === 'true';
          seen.set(live, now);
        }
        if (live !== undefined) {
          resolve(client);
          onLiveReceived();
        }
      });
      response.on('error', () => {});
    });
    request.end();
  });

const openStreams = async (ctx: BenchContext, count: number): Promise<StreamClient[]> => {
  const clients: StreamClient[] = [];
  // In batches, so the api's accept queue and the bench's event loop are not flooded at once.
  for (let i = 0; i < count; i += 100) {
    clients.push(...(await Promise.all(Array.from({ length: Math.min(100, count - i) }, () => openStream(ctx.apiUrl, ctx.token)))));
  }
  return clients;
};

const WARM_UP_ENGAGES = 5;

/** Waits without spinning (a busy bench would take CPU from the api it measures): checked on every receipt. */
const waitUntil = (condition: () => boolean, timeoutMs: number, what: string) =>
  new Promise<void>((resolve, reject) => {
    if (condition()) return resolve();
    const timer = setTimeout(() => {
      onLiveReceived = () => {};
      reject(new Error(`timed out waiting for ${what}`));
    }, timeoutMs);
    onLiveReceived = () => {
      if (!condition()) return;
      clearTimeout(timer);
      onLiveReceived = () => {};
      resolve();
    };
  });

/**
 * Propagation: from the engage POST until every one of `clients` streams has received `live: false`. Between samples
 * the kill switch is released and every client must have seen `live: true` again. go-live is enabled directly in the
 * table first (the bench measures propagation, not the enable preconditions).
 */
const measurePropagation = async (
  ctx: BenchContext,
  clientCount: number,
  engages: number,
): Promise<{ p50: number; p99: number; fanOutP50: number; fanOutP99: number }> => {
  await ctx.pool.query('UPDATE public.go_live_state SET go_live_enabled = true WHERE id = 1');
  // The bench listens too: the notification's arrival splits each sample into POST → commit and commit → clients.
  const listener = new pg.Client({ connectionString: ctx.databaseUrl });
  await listener.connect();
  let engagedNotifiedAt: number | undefined;
  listener.on('notification', (message) => {
    if (/"kill_switch_engaged": true/.test(message.payload ?? '')) engagedNotifiedAt ??= performance.now();
  });
  await listener.query('LISTEN valhalla_live_state');
  const clients = await openStreams(ctx, clientCount);
  const everyone = (live: boolean) => clients.every((client) => client.live() === live);
  const samples: number[] = [];
  const fanOut: number[] = [];
  try {
    // The first cycles warm the path up (JIT in api and worker, plans of a new pool's connections) and are not kept.
    for (let i = -WARM_UP_ENGAGES; i < engages; i += 1) {
      await postJson(`${ctx.apiUrl}/api/governance/kill-switch`, ctx.token, { engaged: false, reason: `bench release ${i}` });
      await waitUntil(() => everyone(true), 30_000, 'every client to see live:true');
      engagedNotifiedAt = undefined;
      const started = performance.now();
      await postJson(`${ctx.apiUrl}/api/governance/kill-switch`, ctx.token, { engaged: true, reason: `bench engage ${i}` });
      await waitUntil(() => everyone(false), 30_000, 'every client to see live:false');
      const last = Math.max(...clients.map((client) => client.seenLiveAt(false) ?? Number.POSITIVE_INFINITY));
      if (i < 0) continue;
      samples.push(last - started);
      if (engagedNotifiedAt !== undefined) fanOut.push(last - engagedNotifiedAt);
    }
  } finally {
    for (const client of clients) client.close();
    await listener.end();
  }
  return { p50: percentile(samples, 50), p99: percentile(samples, 99), fanOutP50: percentile(fanOut, 50), fanOutP99: percentile(fanOut, 99) };
};

/** GETs with autocannon (keep-alive connections), counting 2xx per second to the last response. */
const getLoad = async (ctx: BenchContext, path: string, seconds: number): Promise<number> => {
  const result = await autocannon({
    url: `${ctx.apiUrl}${path}`,
    connections: Math.min(ctx.concurrency, 32),
    duration: seconds,
    headers: { authorization: `Bearer ${ctx.token}` },
  });
  if (result.non2xx > 0 || result.errors > 0) throw new Error(`${path}: ${result.non2xx} non-2xx, ${result.errors} errors`);
  return result.requests.average;
};

/** One request at a time on one keep-alive connection: the latency of the route itself, plus the loopback. */
const sequentialLatencies = async (ctx: BenchContext, path: string, count: number): Promise<number[]> => {
  const agent = new http.Agent({ keepAlive: true, maxSockets: 1 });
  const samples: number[] = [];
  try {
    for (let i = 0; i < count; i += 1) {
      const started = performance.now();
      await new Promise<void>((resolve, reject) => {
        http
          .get(`${ctx.apiUrl}${path}`, { agent, headers: { authorization: `Bearer ${ctx.token}` } }, (response) => {
            response.resume();
            response.once('end', () => resolve());
          })
          .once('error', reject);
      });
      samples.push(performance.now() - started);
    }
  } finally {
    agent.destroy();
  }
  return samples;
};

const rssMb = (pid: number | undefined): number => {
  const status = readFileSync(`/proc/${pid}/status`, 'utf8');
  return Number(/VmRSS:\s+(\d+)/.exec(status)?.[1] ?? Number.NaN) / 1024;
};

/**
 * (live state) Propagation to 100 (and 1,000) stream clients, `GET /live` throughput against `GET /api/session`
 * (authenticated with the same bearer token, answered from memory: no I/O) in alternating rounds, and the api's RSS
 * while 1,000 streams are open.
 */
export const measureLiveState = async (ctx: BenchContext, options: { clients: readonly number[]; engages: number; streamsForRss: number }): Promise<Row[]> => {
  const rows: Row[] = [];
  for (const count of options.clients) {
    const result = await measurePropagation(ctx, count, options.engages);
    const target = count >= 1_000 ? 250 : 50;
    rows.push(
      { measure: `live propagation, engage POST → all ${count} stream clients live:false, p50`, value: round(result.p50), unit: 'ms' },
      {
        measure: `live propagation, engage POST → all ${count} stream clients live:false, p99 (${options.engages} engages)`,
        value: round(result.p99),
        unit: 'ms',
        target: `< ${target} ms`,
        met: result.p99 < target,
      },
      {
        measure: `  of which commit (NOTIFY seen by a listener) → all ${count} clients, p50 / p99: ${round(result.fanOutP50)} / ${round(result.fanOutP99)} ms`,
        value: round(result.fanOutP99),
        unit: 'ms',
      },
    );
  }

  // Many short rounds, alternating which route goes first: on a shared machine a neighbour's burst hits one round,
  // and the median of the per-round ratios is what remains.
  const seconds = ctx.quick ? 1 : 2;
  // Warm both routes up (JIT, connection pools) before the measured rounds.
  await getLoad(ctx, '/api/governance/live', 1);
  await getLoad(ctx, '/api/session', 1);
  const ratios: number[] = [];
  const live: number[] = [];
  const session: number[] = [];
  for (let round = 0; round < Math.max(ctx.quick ? 4 : 10, ctx.rounds); round += 1) {
    const liveFirst = round % 2 === 0;
    const first = await getLoad(ctx, liveFirst ? '/api/governance/live' : '/api/session', seconds);
    const second = await getLoad(ctx, liveFirst ? '/api/session' : '/api/governance/live', seconds);
    const [l, s] = liveFirst ? [first, second] : [second, first];
    live.push(l);
    session.push(s);
    ratios.push(l / s);
  }
  const latencies = await sequentialLatencies(ctx, '/api/governance/live', ctx.quick ? 500 : 5_000);
  rows.push({
    measure: 'GET /live latency p50, one keep-alive connection (HTTP round trip included)',
    value: round(percentile(latencies, 50), 3),
    unit: 'ms',
    target: '< 1 ms',
    met: percentile(latencies, 50) < 1,
  });
  rows.push({
    measure: `GET /live throughput vs GET /api/session (authenticated, no I/O); rounds ${ratios.map((r) => round(r)).join(', ')}`,
    value: round(median(live), 0),
    unit: 'req/s',
    baseline: round(median(session), 0),
    ratio: round(median(ratios)),
    target: '≥ 0.9×',
    met: median(ratios) >= 0.9,
  });

  const before = rssMb(ctx.api.child.pid);
  const streams = await openStreams(ctx, options.streamsForRss);
  // Let the api settle (a GC after the connections were set up) before reading its resident set.
  await new Promise((resolve) => setTimeout(resolve, 1_000));
  const withStreams = rssMb(ctx.api.child.pid);
  for (const stream of streams) stream.close();
  rows.push({
    measure: `api RSS with ${options.streamsForRss} open streams (before opening them: ${round(before, 1)} MB)`,
    value: round(withStreams, 1),
    unit: 'MB',
    target: '< 200 MB',
    met: withStreams < 200,
  });
  return rows;
};
