import { GOVERNANCE_CHANGE_QUEUES } from '@valhalla/contract';
import { postJson } from '../lib/http.ts';
import { createJobWaiter } from '../lib/jobWaiter.ts';
import { startBenchApi, startBenchWorker } from '../lib/productProcesses.ts';
import { percentile, round } from '../lib/stats.ts';
import { startTcpProxy, type TcpProxy } from '../lib/tcpProxy.ts';
import type { BenchContext, Row } from './context.ts';

/** How long the database stays away in each round. */
const OUTAGE_MS = 5_000;
/** An engage not answered this long after the database returned is a failure of the step, not a sample. */
const ANSWER_TIMEOUT_MS = 60_000;

/**
 * Engage posted during a database outage, applied after the database returns (issue 23: p99 < 1 s after recovery).
 * An api and a worker of the step's own reach PostgreSQL through a TCP proxy of the bench's; in each round the proxy
 * cuts every connection and refuses new ones, engages are posted to that api, and after the outage the proxy listens
 * again on its port. Each engage counts from that moment to when it was applied: an engage answered 202 queued (the
 * api found PostgreSQL unreachable and queued it on the safety lane) to its completion event (the worker acknowledges
 * after the commit); one the api held unanswered until the database returned to its answer, 200 completed (applied
 * in the request).
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
    /** Database back → applied, by how the api answered: 202 queued during the outage, or 200 once it was back. */
    const queued: number[] = [];
    const held: number[] = [];
    for (let r = 0; r < ctx.rounds; r += 1) {
      const cutAt = performance.now();
      await proxy.cut();
      // Not awaited before the database returns: an engage the api holds (trying PostgreSQL in the request) is
      // answered only once it is back, applied in the request (200). Those are timed to their answer.
      const posts = Array.from({ length: engagesPerOutage }, async (_, i) => {
        const posted = performance.now();
        const response = await postJson(`${api.url}/api/governance/kill-switch`, ctx.token, { engaged: true, reason: `engage during a database outage ${r}.${i}` }, ANSWER_TIMEOUT_MS);
        return { ...response, answeredAt: performance.now(), posted };
      });
      const answered = Promise.all(posts);
      // Handled here so that a post that fails during the wait is not an unhandled rejection; awaited below.
      answered.catch(() => {});
      const restoreIn = cutAt + outageMs - performance.now();
      if (restoreIn > 0) await new Promise((resolve) => setTimeout(resolve, restoreIn));
      proxy = await startTcpProxy(target, proxy.port);
      const restoredAt = performance.now();
      const answers = await answered;
      const applied = await Promise.all(
        answers.map(async (answer) => {
          const jobId = String(answer.body.jobId);
          if (answer.status === 202 && answer.body.status === 'queued' && answer.answeredAt < restoredAt) {
            answerMs.push(answer.answeredAt - answer.posted);
            const at = await waiter.finishedAt(jobId, 60_000);
            queued.push(at - restoredAt);
            return { jobId, at };
          }
          if (answer.status === 200 && answer.body.status === 'completed' && answer.answeredAt >= restoredAt) {
            held.push(answer.answeredAt - restoredAt);
            return { jobId, at: answer.answeredAt };
          }
          throw new Error(`engage during the outage answered ${answer.status} ${JSON.stringify(answer.body)} ${Math.round(answer.answeredAt - restoredAt)} ms after the database returned`);
        }),
      );
      const jobIds = applied.map((engage) => engage.jobId);
      const executed = await ctx.pool.query<{ n: number }>('SELECT count(*)::int AS n FROM public.governance_executed_jobs WHERE job_id = ANY($1)', [jobIds]);
      if (executed.rows[0]?.n !== jobIds.length) throw new Error(`only ${executed.rows[0]?.n} of ${jobIds.length} engages posted during the outage were executed`);
      perOutage.push(applied.map((engage) => engage.at - restoredAt));
      // The api is healthy again before the next cut.
      const deadline = Date.now() + 60_000;
      while (!(await fetch(`${api.url}/health`).then(async (response) => response.ok && ((await response.json()) as { status: string }).status === 'ok', () => false))) {
        if (Date.now() > deadline) throw new Error('the api did not report ok within 60 s of the database returning');
        await new Promise((resolve) => setTimeout(resolve, 50));
      }
    }
    const all = perOutage.flat();
    const spread = (values: number[]) => (values.length === 0 ? 'none' : `${values.length}, p50 ${round(percentile(values, 50))} / max ${round(Math.max(...values))} ms`);
    const p99 = percentile(all, 99);
    return [
      {
        measure: `engage posted during a database outage (${outageMs / 1000} s, ${engagesPerOutage} engages in each of ${perOutage.length} outage(s)): database back → applied, p99 of ${all.length} (p50 ${round(percentile(all, 50))} ms; answered 202 queued during the outage and applied by the worker: ${spread(queued)}${answerMs.length === 0 ? '' : `, their 202 in p50 ${round(percentile(answerMs, 50))} / max ${round(Math.max(...answerMs))} ms`}; held by the api until the database returned, then applied in the request (200): ${spread(held)})`,
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
