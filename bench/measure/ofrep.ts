import http from 'node:http';
import { OFREPProvider } from '@openfeature/ofrep-provider';
import { OpenFeature } from '@openfeature/server-sdk';
import autocannon from 'autocannon';
import { listenForEngages } from '../lib/commitListener.ts';
import { postJson } from '../lib/http.ts';
import { median, percentile, round } from '../lib/stats.ts';
import type { BenchContext, Row } from './context.ts';

const BULK = '/ofrep/v1/evaluate/flags';
const SINGLE = '/ofrep/v1/evaluate/flags/valhalla-live';
const BODY = JSON.stringify({ context: { targetingKey: 'bench' } });

/** The state's current ETag, as `GET /api/governance/live` answers it. */
const currentEtag = async (ctx: BenchContext): Promise<string> => {
  const response = await fetch(`${ctx.apiUrl}/api/governance/live`, { headers: { authorization: `Bearer ${ctx.appToken}` } });
  await response.body?.cancel();
  const etag = response.headers.get('etag');
  if (etag === null) throw new Error('GET /live answered without an ETag');
  return etag;
};

/**
 * Requests per second with autocannon (keep-alive connections), every answer expected to be a 304: the path an
 * application polling with its ETag takes while nothing changes.
 */
const notModifiedLoad = async (ctx: BenchContext, request: { method: 'GET' | 'POST'; path: string; body?: string }, etag: string, seconds: number): Promise<number> => {
  const result = await autocannon({
    url: `${ctx.apiUrl}${request.path}`,
    method: request.method,
    connections: Math.min(ctx.concurrency, 32),
    duration: seconds,
    headers: {
      authorization: `Bearer ${ctx.appToken}`,
      'if-none-match': etag,
      ...(request.body === undefined ? {} : { 'content-type': 'application/json' }),
    },
    ...(request.body === undefined ? {} : { body: request.body }),
  });
  // autocannon counts a 304 as non-2xx: every answer must be one, and nothing else.
  if (result.errors > 0 || result['3xx'] !== result.requests.total || result.requests.total === 0) {
    throw new Error(`${request.method} ${request.path}: ${result['3xx']} of ${result.requests.total} answers were 304, ${result.errors} errors`);
  }
  return result.requests.average;
};

/** One evaluation at a time over one keep-alive connection: the route's latency plus the loopback. */
const sequentialEvaluations = async (ctx: BenchContext, count: number): Promise<number[]> => {
  const agent = new http.Agent({ keepAlive: true, maxSockets: 1 });
  const samples: number[] = [];
  try {
    for (let i = 0; i < count; i += 1) {
      const started = performance.now();
      await new Promise<void>((resolve, reject) => {
        const request = http.request(`${ctx.apiUrl}${SINGLE}`, {
          method: 'POST',
          agent,
          headers: { authorization: `Bearer ${ctx.appToken}`, 'content-type': 'application/json', 'content-length': Buffer.byteLength(BODY) },
        }, (response) => {
          if (response.statusCode !== 200) reject(new Error(`OFREP evaluation answered ${response.statusCode}`));
          response.resume();
          response.once('end', () => resolve());
        });
        request.once('error', reject);
        request.end(BODY);
      });
      samples.push(performance.now() - started);
    }
  } finally {
    agent.destroy();
  }
  return samples;
};

const WARM_UP_ENGAGES = 5;

/**
 * Engage → an OpenFeature SDK evaluation of `valhalla-live` returns false. OpenFeature's server OFREP provider has no
 * cache and no polling of its own: every evaluation is a request, so its shortest "poll" is evaluating back to back,
 * which the loop here does (one evaluation in flight at a time). A sample runs from just before the engage POST to
 * the end of the first evaluation that answered false.
 */
const measureSdkEngage = async (ctx: BenchContext, engages: number) => {
  await ctx.pool.query('UPDATE public.go_live_state SET go_live_enabled = true WHERE id = 1');
  await OpenFeature.setProviderAndWait('bench', new OFREPProvider({ baseUrl: ctx.apiUrl, headers: [['Authorization', `Bearer ${ctx.appToken}`]] }));
  const client = OpenFeature.getClient('bench');
  const evaluationMs: number[] = [];
  /** Evaluates back to back until `value` comes back; returns when the loop saw it. */
  const evaluateUntil = async (value: boolean, timeoutMs: number): Promise<number> => {
    const deadline = Date.now() + timeoutMs;
    for (;;) {
      const started = performance.now();
      // The default is the opposite of what is awaited: an error can never pass for the value.
      const details = await client.getBooleanDetails('valhalla-live', !value);
      evaluationMs.push(performance.now() - started);
      if (details.errorCode === undefined && details.value === value) return Date.now();
      if (Date.now() > deadline) throw new Error(`the SDK did not evaluate valhalla-live to ${String(value)} within ${timeoutMs} ms`);
    }
  };
  const commits = await listenForEngages(ctx.databaseUrl);
  const samples: number[] = [];
  const afterCommit: number[] = [];
  try {
    for (let i = -WARM_UP_ENGAGES; i < engages; i += 1) {
      await postJson(`${ctx.apiUrl}/api/governance/kill-switch`, ctx.token, { engaged: false, reason: `bench OFREP release ${i}` });
      await evaluateUntil(true, 30_000);
      commits.reset();
      const started = Date.now();
      await postJson(`${ctx.apiUrl}/api/governance/kill-switch`, ctx.token, { engaged: true, reason: `bench OFREP engage ${i}` });
      const seen = await evaluateUntil(false, 30_000);
      if (i < 0) continue;
      samples.push(seen - started);
      const committed = commits.engagedAt();
      if (committed !== undefined) afterCommit.push(seen - committed);
    }
  } finally {
    await OpenFeature.clearProviders();
    await commits.close();
  }
  return { samples, afterCommit, evaluationP50: percentile(evaluationMs, 50), evaluationP99: percentile(evaluationMs, 99) };
};

/**
 * (ofrep) OFREP bulk evaluation on its 304 path against `GET /api/governance/live` with If-None-Match, in alternating
 * rounds of the same run; one evaluation's latency over one keep-alive connection; engage → OpenFeature SDK
 * evaluation false.
 */
export const measureOfrep = async (ctx: BenchContext, options: { engages: number }): Promise<Row[]> => {
  const rows: Row[] = [];
  const etag = await currentEtag(ctx);
  const seconds = ctx.quick ? 1 : 2;
  const bulk = { method: 'POST', path: BULK, body: BODY } as const;
  const live = { method: 'GET', path: '/api/governance/live' } as const;
  // Warm both routes up (JIT) before the measured rounds.
  await notModifiedLoad(ctx, bulk, etag, 1);
  await notModifiedLoad(ctx, live, etag, 1);
  const ratios: number[] = [];
  const ofrepRates: number[] = [];
  const liveRates: number[] = [];
  for (let round = 0; round < Math.max(ctx.quick ? 4 : 10, ctx.rounds); round += 1) {
    const ofrepFirst = round % 2 === 0;
    const first = await notModifiedLoad(ctx, ofrepFirst ? bulk : live, etag, seconds);
    const second = await notModifiedLoad(ctx, ofrepFirst ? live : bulk, etag, seconds);
    const [o, l] = ofrepFirst ? [first, second] : [second, first];
    ofrepRates.push(o);
    liveRates.push(l);
    ratios.push(o / l);
  }
  rows.push({
    measure: `OFREP bulk evaluation 304 throughput vs GET /live with If-None-Match; rounds ${ratios.map((r) => round(r)).join(', ')}`,
    value: round(median(ofrepRates), 0),
    unit: 'req/s',
    baseline: round(median(liveRates), 0),
    ratio: round(median(ratios)),
    target: '≥ 0.9×',
    met: median(ratios) >= 0.9,
  });

  const latencies = await sequentialEvaluations(ctx, ctx.quick ? 500 : 5_000);
  rows.push({
    measure: 'OFREP single evaluation latency p50, one keep-alive connection (HTTP round trip included)',
    value: round(percentile(latencies, 50), 3),
    unit: 'ms',
    target: '< 1 ms',
    met: percentile(latencies, 50) < 1,
  });

  const sdk = await measureSdkEngage(ctx, options.engages);
  const interval = sdk.evaluationP50;
  const p99 = percentile(sdk.samples, 99);
  rows.push(
    {
      measure: `engage POST → OpenFeature SDK (OFREP provider) evaluates valhalla-live false, p50 (evaluations back to back, one takes ${round(interval, 2)} ms p50 / ${round(sdk.evaluationP99, 2)} ms p99)`,
      value: round(percentile(sdk.samples, 50)),
      unit: 'ms',
    },
    {
      measure: `  of which commit (NOTIFY seen by a listener) → SDK evaluation false, p50 / p99: ${round(percentile(sdk.afterCommit, 50))} / ${round(percentile(sdk.afterCommit, 99))} ms`,
      value: round(percentile(sdk.afterCommit, 99)),
      unit: 'ms',
    },
    {
      measure: `engage POST → OpenFeature SDK evaluates valhalla-live false, p99 (${options.engages} engages)`,
      value: round(p99),
      unit: 'ms',
      target: `< one evaluation + 50 ms (${round(interval + 50, 1)} ms)`,
      met: p99 < interval + 50,
    },
  );
  return rows;
};
