import { GOVERNANCE_CHANGE_QUEUES } from '@valhalla/core';
import { postJson } from '../lib/http.ts';
import { createJobWaiter } from '../lib/jobWaiter.ts';
import { startBenchApi, startBenchWorker } from '../lib/productProcesses.ts';
import { percentile, round } from '../lib/stats.ts';
import { startTcpProxy, type TcpProxy } from '../lib/tcpProxy.ts';
import type { BenchContext, Row } from './context.ts';

/** How long the database stays away in each round. */
const OUTAGE_MS = 5_000;

/**
 * Engage posted during a database outage, applied after the database returns (issue 23: p99 < 1 s after recovery).
 * An api and a worker of the step's own reach PostgreSQL through a TCP proxy of the bench's; in each round the proxy
 * cuts every connection and refuses new ones, engages are posted to that api (answered 202 queued: PostgreSQL is
 * unreachable, so the api queues them on the safety lane), and after the outage the proxy listens again on its port.
 * Each engage counts from that moment to its completion event (the worker acknowledges after the commit).
 */
export const measureEngageDatabaseOutage = async (ctx: BenchContext): Promise<Row[]> => {
  const engagesPerOutage = ctx.quick ? 3 : 10;
  const outageMs = ctx.quick ? 1_000 : OUTAGE_MS;
  const database = new URL(ctx.databaseUrl);
  const target = { host: database.hostname, port: Number(database.port || 5432) };
  let proxy: TcpProxy = await startTcpProxy(target);
  const viaProxy = new URL(ctx.databaseUrl);
  viaProxy.hostname = '127.0.0.1';
  viaProxy.port = String(proxy.port);
  const name = 'db-outage';
  const env = { DATABASE_URL: viaProxy.toString() };
  const waiter = await createJobWaiter({ queues: GOVERNANCE_CHANGE_QUEUES, prefix: `${ctx.prefix}-${name}`, redisUrl: ctx.redisUrl });
  const started: { stop: () => Promise<void> }[] = [];
  try {
    const api = await startBenchApi(ctx, { name, env });
    started.push(api.process);
    started.push(await startBenchWorker(ctx, { name, env }));
    const perOutage: number[][] = [];
    const answerMs: number[] = [];
    for (let r = 0; r < ctx.rounds; r += 1) {
      const cutAt = performance.now();
      await proxy.cut();
      const jobIds = await Promise.all(
        Array.from({ length: engagesPerOutage }, async (_, i) => {
          const posted = performance.now();
          const response = await postJson(`${api.url}/api/governance/kill-switch`, ctx.token, { engaged: true, reason: `engage during a database outage ${r}.${i}` });
          answerMs.push(performance.now() - posted);
          if (response.status !== 202 || response.body.status !== 'queued') throw new Error(`engage during the outage answered ${response.status} ${JSON.stringify(response.body)}`);
          return String(response.body.jobId);
        }),
      );
      const restoreIn = cutAt + outageMs - performance.now();
      if (restoreIn > 0) await new Promise((resolve) => setTimeout(resolve, restoreIn));
      proxy = await startTcpProxy(target, proxy.port);
      const restoredAt = performance.now();
      const applied = await Promise.all(jobIds.map((jobId) => waiter.finishedAt(jobId, 60_000)));
      const executed = await ctx.pool.query<{ n: number }>('SELECT count(*)::int AS n FROM public.governance_executed_jobs WHERE job_id = ANY($1)', [jobIds]);
      if (executed.rows[0]?.n !== jobIds.length) throw new Error(`only ${executed.rows[0]?.n} of ${jobIds.length} engages queued during the outage were executed`);
      perOutage.push(applied.map((at) => at - restoredAt));
      // The api and the worker are healthy again before the next cut.
      while (!(await fetch(`${api.url}/health`).then(async (r) => r.ok && ((await r.json()) as { status: string }).status === 'ok', () => false))) {
        await new Promise((resolve) => setTimeout(resolve, 50));
      }
    }
    const all = perOutage.flat();
    const p99 = percentile(all, 99);
    return [
      {
        measure: `engage posted during a database outage (${outageMs / 1000} s, ${engagesPerOutage} engages answered 202 queued, in ${perOutage.length} outage(s)): applied after the database returned, p99 of ${all.length} (p50 ${round(percentile(all, 50))} ms; answered 202 in p50 ${round(percentile(answerMs, 50))} / max ${round(Math.max(...answerMs))} ms)`,
        value: round(p99),
        unit: 'ms',
        perRound: perOutage.map((l) => round(percentile(l, 99))),
        target: '< 1,000 ms after recovery',
        ...(ctx.quick ? {} : { met: p99 < 1_000 }),
      },
    ];
  } finally {
    for (const process of started.reverse()) await process.stop();
    await waiter.close();
    await proxy.cut();
  }
};
