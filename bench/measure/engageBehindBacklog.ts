import { Queue } from 'bullmq';
import { QUEUES } from '@valhalla/contract';
import { createBacklog } from '../lib/backlog.ts';
import { floorRow, type FloorRound } from '../lib/floorRow.ts';
import { timeEngage } from '../lib/http.ts';
import { startBenchWorker } from '../lib/productProcesses.ts';
import { timeRawChanges } from '../lib/rawFloor.ts';
import { percentile, round } from '../lib/stats.ts';
import type { BenchContext, Row } from './context.ts';

/**
 * Engage through the api behind a backlog of queued changes, at WORKER_CONCURRENCY 4, 16 and 64 (issue 23: p99 ≤ 4×
 * the raw single transaction's p99 at each). A worker of the step's own, with that concurrency, works through the
 * backlog (kept topped up before each sample) on a queue prefix of its own, while the run's api engages in the
 * request: POST → 200 completed. In each round the raw transaction is timed first with the backlog drained and the
 * worker idle (the floor), then the engages.
 */
export const measureEngageBehindBacklog = async (ctx: BenchContext): Promise<Row[]> => {
  const backlogSize = ctx.quick ? 300 : 5_000;
  const samples = ctx.quick ? 20 : 500;
  const rows: Row[] = [];
  for (const concurrency of ctx.quick ? [4, 64] : [4, 16, 64]) {
    const name = `backlog-${concurrency}`;
    const worker = await startBenchWorker(ctx, { name, env: { WORKER_CONCURRENCY: String(concurrency) } });
    const queue = new Queue(QUEUES.governance, { prefix: `${ctx.prefix}-${name}`, connection: { url: ctx.redisUrl } });
    try {
      const backlog = createBacklog(queue, { size: backlogSize });
      const rounds: FloorRound[] = [];
      for (let r = 0; r < ctx.rounds; r += 1) {
        const raw = await timeRawChanges(ctx.pool, samples);
        const product: number[] = [];
        for (let i = 0; i < samples; i += 1) {
          await backlog.topUp();
          product.push(await timeEngage(ctx.apiUrl, ctx.token, `engage behind backlog ${concurrency}.${r}.${i}`));
        }
        await backlog.drain();
        rounds.push({ product, raw });
      }
      const all = rounds.flatMap((r) => r.product);
      rows.push(
        floorRow({
          measure: `engage through the api behind ${backlogSize.toLocaleString('en-US')} queued changes, WORKER_CONCURRENCY=${concurrency}, p99 of ${all.length} (POST → 200 completed; p50 ${round(percentile(all, 50))} ms)`,
          rounds,
          p: 99,
          maxRatio: 4,
          quick: ctx.quick,
        }),
      );
    } finally {
      await queue.close();
      await worker.stop();
    }
  }
  return rows;
};
