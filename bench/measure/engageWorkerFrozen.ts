import { Queue } from 'bullmq';
import type pg from 'pg';
import { QUEUES } from '@valhalla/contract';
import { createBacklog } from '../lib/backlog.ts';
import type { BenchProcess } from '../lib/environment.ts';
import { timeEngage } from '../lib/http.ts';
import { startBenchWorker } from '../lib/productProcesses.ts';
import { percentile, round } from '../lib/stats.ts';
import type { BenchContext, Row } from './context.ts';

/** How long a worker stays frozen, as in the fault run (a VM pause or a long collection looks the same). */
const FREEZE_MS = 10_000;
/** Engages are started this often during a freeze (not back to back, so the first ones are not drowned in the p99). */
const ENGAGE_EVERY_MS = 100;
const FROZEN_APPLICATION = 'bench-frozen-worker';

/** Whether a session of the frozen worker sits idle in a transaction holding go_live_state (its batch's row-1 lock). */
const holdsRowOneIdle = async (pool: pg.Pool): Promise<boolean> =>
  (
    await pool.query<{ held: boolean }>(
      `SELECT EXISTS (
         SELECT 1 FROM pg_stat_activity a JOIN pg_locks l ON l.pid = a.pid
         WHERE a.datname = current_database() AND a.application_name = $1 AND a.state = 'idle in transaction'
           AND l.granted AND l.locktype = 'relation' AND l.relation = 'public.go_live_state'::regclass
       ) AS held`,
      [FROZEN_APPLICATION],
    )
  ).rows[0]?.held === true;

/**
 * SIGSTOPs the worker at a moment it holds a batch: the backlog topped up, the worker frozen, then checked; if its
 * session does not sit on row 1 within 100 ms (it was between batches), it is let run and frozen again. Resolves once it is frozen holding the lock.
 * @throws after 200 tries.
 */
const freezeHoldingBatch = async (worker: BenchProcess, pool: pg.Pool, topUp: () => Promise<unknown>): Promise<void> => {
  for (let attempt = 0; attempt < 200; attempt += 1) {
    // The other worker drains a small backlog (the quick run's 300) within a few tries: without work this one never
    // holds a batch to be caught with.
    await topUp();
    worker.child.kill('SIGSTOP');
    const deadline = performance.now() + 100;
    while (performance.now() < deadline) {
      if (await holdsRowOneIdle(pool)) return;
      await new Promise((resolve) => setTimeout(resolve, 5));
    }
    worker.child.kill('SIGCONT');
    await new Promise((resolve) => setTimeout(resolve, 10 + Math.random() * 40));
  }
  throw new Error('the worker was never caught holding a batch (row 1, idle in transaction)');
};

/**
 * Engage while a worker is frozen holding a batch (issue 23: p99 < 1 s). Two workers of the step's own work through
 * a backlog; one is frozen (SIGSTOP) while its batch holds row 1, for 10 s, and engages are posted through the run's
 * api every 100 ms meanwhile (POST → 200 completed). The first engage waits for the lock, then ends the frozen holder
 * (an engage may preempt a session idle in its transaction); the batch rolls back and is retried after SIGCONT.
 */
export const measureEngageWorkerFrozen = async (ctx: BenchContext): Promise<Row[]> => {
  const freezeMs = ctx.quick ? 1_000 : FREEZE_MS;
  const name = 'frozen';
  const frozenUrl = new URL(ctx.databaseUrl);
  frozenUrl.searchParams.set('application_name', FROZEN_APPLICATION);
  const frozen = await startBenchWorker(ctx, { name, env: { DATABASE_URL: frozenUrl.toString() } });
  const running = await startBenchWorker(ctx, { name }).catch(async (error: unknown) => {
    await frozen.stop();
    throw error;
  });
  const queue = new Queue(QUEUES.governance, { prefix: `${ctx.prefix}-${name}`, connection: { url: ctx.redisUrl } });
  try {
    const backlog = createBacklog(queue, { size: ctx.quick ? 300 : 5_000 });
    const perFreeze: number[][] = [];
    for (let r = 0; r < ctx.rounds; r += 1) {
      await backlog.topUp();
      await freezeHoldingBatch(frozen, ctx.pool, () => backlog.topUp());
      const frozenAt = performance.now();
      const latencies: number[] = [];
      try {
        for (let i = 0; performance.now() - frozenAt < freezeMs; i += 1) {
          const next = frozenAt + i * ENGAGE_EVERY_MS;
          if (next > performance.now()) await new Promise((resolve) => setTimeout(resolve, next - performance.now()));
          await backlog.topUp();
          latencies.push(await timeEngage(ctx.apiUrl, ctx.token, `engage while a worker is frozen ${r}.${i}`));
        }
      } finally {
        frozen.child.kill('SIGCONT');
      }
      perFreeze.push(latencies);
    }
    await backlog.drain();
    const all = perFreeze.flat();
    const p99 = percentile(all, 99);
    return [
      {
        measure: `engage through the api while a worker is frozen (SIGSTOP ${freezeMs / 1000} s holding its batch), p99 of ${all.length} in ${perFreeze.length} freeze(s) (POST → 200 completed; first engage of each freeze ${perFreeze.map((l) => round(l[0] ?? Number.NaN)).join(' / ')} ms, max ${round(Math.max(...all))} ms, p50 ${round(percentile(all, 50))} ms)`,
        value: round(p99),
        unit: 'ms',
        perRound: perFreeze.map((l) => round(percentile(l, 99))),
        target: '< 1,000 ms',
        ...(ctx.quick ? {} : { met: p99 < 1_000 }),
      },
    ];
  } finally {
    frozen.child.kill('SIGCONT');
    await queue.close();
    await Promise.all([frozen.stop(), running.stop()]);
  }
};
