import { floorRow, type FloorRound } from '../lib/floorRow.ts';
import { timeEngage } from '../lib/http.ts';
import { timeRawChanges } from '../lib/rawFloor.ts';
import { percentile, round } from '../lib/stats.ts';
import type { BenchContext, Row } from './context.ts';

/**
 * Engage through the api with nothing queued (issue 23: p50 ≤ 3× the raw single transaction's p50). Each sample is
 * a pair, side by side: the raw transaction releases the switch (timed: the floor), then the api engages it (timed:
 * POST → 200 completed, applied in the request), so every engage changes the state as an engage in earnest does.
 */
export const measureEngageIdle = async (ctx: BenchContext): Promise<Row[]> => {
  const samples = ctx.quick ? 30 : 500;
  const rounds: FloorRound[] = [];
  for (let r = 0; r < ctx.rounds; r += 1) {
    const product: number[] = [];
    const raw: number[] = [];
    for (let i = 0; i < samples; i += 1) {
      raw.push(...(await timeRawChanges(ctx.pool, 1)));
      product.push(await timeEngage(ctx.apiUrl, ctx.token, `engage idle ${r}.${i}`));
    }
    rounds.push({ product, raw });
  }
  const all = rounds.flatMap((r) => r.product);
  return [
    floorRow({
      measure: `engage through the api, nothing queued, p50 of ${all.length} (POST → 200 completed; p99 ${round(percentile(all, 99))} ms; raw: the same change in one transaction)`,
      rounds,
      p: 50,
      maxRatio: 3,
      quick: ctx.quick,
    }),
  ];
};
