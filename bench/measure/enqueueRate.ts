import { Queue } from 'bullmq';
import { JOB_CATALOG, JOB_NAMES } from '@valhalla/contract';
import { freePort, startProcess } from '../lib/environment.ts';
import { postLoad } from '../lib/http.ts';
import { median, round, runPool } from '../lib/stats.ts';
import type { BenchContext, Row } from './context.ts';

/**
 * (2) Authenticated POSTs answered 202 per second, against raw BullMQ `Queue.add` of the same payloads at the same
 * concurrency. The governance queue is paused (BullMQ's own pause: the worker finishes what it holds and takes no
 * more), so neither side competes with job processing; the queued jobs are removed afterwards.
 */
export const measureEnqueueRate = async (ctx: BenchContext): Promise<Row[]> => {
  const rawQueue = new Queue('bench-raw-enqueue', { prefix: ctx.prefix, connection: { url: ctx.redisUrl } });
  const options = JOB_CATALOG[JOB_NAMES.goLiveChange].options;
  const product: number[] = [];
  const raw: number[] = [];
  const ceiling: number[] = [];
  const ceilingWithAdd: number[] = [];
  const trivialPort = await freePort();
  const trivial = startProcess('bench/lib/trivialServer.js', { PORT: String(trivialPort) });
  const addingPort = await freePort();
  const adding = startProcess('bench/lib/trivialServer.js', {
    PORT: String(addingPort),
    ENQUEUE: '1',
    REDIS_URL: ctx.redisUrl,
    BULLMQ_PREFIX: ctx.prefix,
  });
  await trivial.waitFor(/listening/);
  await adding.waitFor(/listening/);
  const ceilingLoad = (port: number) =>
    postLoad({
      url: `http://127.0.0.1:${port}`,
      path: '/api/governance/kill-switch',
      token: ctx.token,
      total: ctx.changes,
      concurrency: ctx.concurrency,
      bodyFor: (i) => ({ action: i % 2 === 0 ? 'kill_switch.engage' : 'kill_switch.release', actor: 'bench', reason: `bench enqueue ${i}` }),
    });
  try {
    for (let round_ = 0; round_ < ctx.rounds; round_ += 1) {
      await ctx.governanceQueue.pause();
      const load = await postLoad({
        url: ctx.apiUrl,
        path: '/api/governance/kill-switch',
        token: ctx.token,
        total: ctx.changes,
        concurrency: ctx.concurrency,
        // Releases only: engages take the safety lane, which is not paused and would be processed meanwhile.
        bodyFor: (i) => ({ engaged: false, reason: `bench enqueue ${i}` }),
      });
      product.push(load.perSecond);

      const started = performance.now();
      await runPool(ctx.changes, ctx.concurrency, async (i) => {
        const payload = { action: i % 2 === 0 ? 'kill_switch.engage' : 'kill_switch.release', actor: 'bench', reason: `bench enqueue ${i}` } as const;
        await rawQueue.add(JOB_NAMES.goLiveChange, payload, options(payload));
      });
      raw.push(ctx.changes / ((performance.now() - started) / 1000));

      ceiling.push((await ceilingLoad(trivialPort)).perSecond);
      ceilingWithAdd.push((await ceilingLoad(addingPort)).perSecond);
      await rawQueue.obliterate({ force: true });
      // Only the jobs this measurement queued (all still waiting: the queue is paused), not the queue itself.
      await ctx.governanceQueue.drain(true);
    }
  } finally {
    await ctx.governanceQueue.resume();
    await rawQueue.close();
    await trivial.stop();
    await adding.stop();
  }
  const rate = median(product);
  const baseline = median(raw);
  const httpCeiling = median(ceiling);
  const addCeiling = median(ceilingWithAdd);
  return [
    {
      measure: `enqueue rate (POST → 202, C=${ctx.concurrency})`,
      value: round(rate, 0),
      unit: 'requests/s',
      baseline: round(baseline, 0),
      ratio: round(rate / baseline),
      target: '≥ 0.5× raw BullMQ add',
      met: rate / baseline >= 0.5,
    },
    {
      measure: `HTTP ceiling: a keep-alive node:http server doing nothing, same load (C=${ctx.concurrency})`,
      value: round(httpCeiling, 0),
      unit: 'requests/s',
      baseline: round(baseline, 0),
      ratio: round(httpCeiling / baseline),
    },
    {
      measure: `ceiling: node:http doing one BullMQ add per request and nothing else (C=${ctx.concurrency})`,
      value: round(addCeiling, 0),
      unit: 'requests/s',
      baseline: round(baseline, 0),
      ratio: round(addCeiling / baseline),
    },
    {
      measure: 'enqueue rate as a share of that HTTP + add ceiling',
      value: round((rate / addCeiling) * 100, 0),
      unit: '%',
    },
  ];
};
