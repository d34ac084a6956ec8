import type pg from 'pg';
import { freePort } from '../lib/environment.ts';
import { postJson } from '../lib/http.ts';
import { startBenchApi, startBenchWorker } from '../lib/productProcesses.ts';
import { startRedisServer } from '../lib/redisServer.ts';
import { round } from '../lib/stats.ts';
import type { BenchContext, Row } from './context.ts';

/** The scenario: 50 accepted changes, 10 of them engages. */
const CHANGES = 50;
const ENGAGES = 10;
/** How long the step waits for the changes before it counts the missing ones as never applied. */
const GIVE_UP_MS = 60_000;

const executedCount = async (pool: pg.Pool, jobIds: readonly string[]): Promise<number> =>
  (await pool.query<{ n: number }>('SELECT count(*)::int AS n FROM public.governance_executed_jobs WHERE job_id = ANY($1)', [jobIds])).rows[0]?.n ?? 0;

/**
 * Redis restarted empty with accepted, unapplied changes (issue 23: none never applied; all applied ≤ 10 s after
 * the workers reconnect). An api and a worker of the step's own use a redis-server of the step's own (the shared
 * one is never touched). In each round the worker is paused (SIGSTOP), 50 changes are posted and answered 2xx: 10
 * engages (applied in the request, 200) and 40 metadata updates (recorded in PostgreSQL, enqueued, 202); Redis is
 * killed and started again empty; the worker is let run (SIGCONT) and reconnects, and its reconciler finds the 40
 * accepted changes that Redis lost and enqueues them again. Timed from SIGCONT to the last one executed (its
 * executed-job record, polled every 20 ms). The product's reconciler settings (RECONCILE_INTERVAL_MS,
 * RECONCILE_GRACE_MS) except in --quick, which shortens them.
 */
export const measureRedisLoss = async (ctx: BenchContext): Promise<Row[]> => {
  const redis = await startRedisServer({ port: await freePort() });
  const name = 'redis-loss';
  const env = { REDIS_URL: redis.url, ...(ctx.quick ? { RECONCILE_INTERVAL_MS: '200', RECONCILE_GRACE_MS: '500' } : {}) };
  const started: { stop: () => Promise<void> }[] = [];
  try {
    const api = await startBenchApi(ctx, { name, env });
    started.push(api.process);
    const worker = await startBenchWorker(ctx, { name, env });
    started.push(worker);
    const reconnectToApplied: number[] = [];
    let neverApplied = 0;
    let engagesApplied = 0;
    for (let r = 0; r < ctx.rounds; r += 1) {
      worker.child.kill('SIGSTOP');
      let jobIds: string[];
      try {
        const answers = await Promise.all(
          Array.from({ length: CHANGES }, (_, i) =>
            i % (CHANGES / ENGAGES) === 0
              ? postJson(`${api.url}/api/governance/kill-switch`, ctx.token, { engaged: true, reason: `redis loss ${r}.${i}` })
              : postJson(`${api.url}/api/governance/system-metadata`, ctx.token, { notes: `redis loss ${r}.${i}`, reason: `redis loss ${r}.${i}` }),
          ),
        );
        const refused = answers.filter((answer) => answer.status !== 200 && answer.status !== 202);
        if (refused.length > 0) throw new Error(`${refused.length} changes were not accepted: ${JSON.stringify(refused[0])}`);
        engagesApplied += answers.filter((answer) => answer.status === 200 && answer.body.status === 'completed').length;
        jobIds = answers.map((answer) => String(answer.body.jobId));
        await redis.kill();
        await redis.restart();
      } finally {
        worker.child.kill('SIGCONT');
      }
      const reconnected = performance.now();
      let lastSeen = reconnected;
      while ((await executedCount(ctx.pool, jobIds)) < CHANGES && performance.now() - reconnected < GIVE_UP_MS) {
        await new Promise((resolve) => setTimeout(resolve, 20));
        lastSeen = performance.now();
      }
      const missing = CHANGES - (await executedCount(ctx.pool, jobIds));
      neverApplied += missing;
      // A round that gave up counts its whole wait: at least a minute, which fails the target as it should.
      reconnectToApplied.push((lastSeen - reconnected) / 1000);
    }
    const slowest = Math.max(...reconnectToApplied);
    const total = CHANGES * ctx.rounds;
    const settings = ctx.quick ? 'reconciler every 200 ms, grace 500 ms (--quick)' : 'the reconciler\'s defaults';
    return [
      {
        measure: `Redis restarted empty with ${CHANGES} accepted, unapplied changes (${ENGAGES} engages among them), ${ctx.rounds} round(s): never applied, of ${total} (engages applied in the request: ${engagesApplied} of ${ENGAGES * ctx.rounds})`,
        value: neverApplied,
        unit: 'changes',
        target: '0',
        ...(ctx.quick ? {} : { met: neverApplied === 0 }),
      },
      {
        measure: `Redis restarted empty: the worker reconnecting (SIGCONT) → all ${CHANGES} applied, slowest of ${ctx.rounds} round(s) (${settings})`,
        value: round(slowest),
        unit: 's',
        perRound: reconnectToApplied.map((seconds) => round(seconds)),
        target: '≤ 10 s',
        ...(ctx.quick ? {} : { met: slowest <= 10 }),
      },
    ];
  } finally {
    for (const process of started.reverse()) await process.stop();
    await redis.kill();
  }
};
