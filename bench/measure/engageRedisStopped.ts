import { freePort } from '../lib/environment.ts';
import { floorRow, type FloorRound } from '../lib/floorRow.ts';
import { timeEngage } from '../lib/http.ts';
import { startBenchApi } from '../lib/productProcesses.ts';
import { startRedisServer } from '../lib/redisServer.ts';
import { timeRawChanges } from '../lib/rawFloor.ts';
import { percentile, round } from '../lib/stats.ts';
import type { BenchContext, Row } from './context.ts';

/**
 * Engage through an api whose Redis is stopped (issue 23: p99 ≤ 4× the raw single transaction's p99, as with Redis
 * up). The api is the step's own, on a redis-server of the step's own that is killed once the api is healthy (the
 * shared Redis is never touched); an engage is applied in the request either way, so this shows that Redis being away
 * costs it nothing. Each sample is a pair, side by side: the raw transaction releases the switch (the floor), then the
 * api engages it, so every engage changes the state.
 */
export const measureEngageRedisStopped = async (ctx: BenchContext): Promise<Row[]> => {
  const samples = ctx.quick ? 20 : 500;
  const redis = await startRedisServer({ port: await freePort() });
  try {
    const api = await startBenchApi(ctx, { name: 'redis-stopped', env: { REDIS_URL: redis.url } });
    try {
      await redis.kill();
      const rounds: FloorRound[] = [];
      for (let r = 0; r < ctx.rounds; r += 1) {
        const raw: number[] = [];
        const product: number[] = [];
        for (let i = 0; i < samples; i += 1) {
          raw.push(...(await timeRawChanges(ctx.pool, 1)));
          product.push(await timeEngage(api.url, ctx.token, `engage with Redis stopped ${r}.${i}`));
        }
        rounds.push({ product, raw });
      }
      const all = rounds.flatMap((r) => r.product);
      return [
        floorRow({
          measure: `engage through the api with Redis stopped (break-glass), p99 of ${all.length} (POST → 200 completed; p50 ${round(percentile(all, 50))} ms)`,
          rounds,
          p: 99,
          maxRatio: 4,
          quick: ctx.quick,
        }),
      ];
    } finally {
      await api.process.stop();
    }
  } finally {
    await redis.kill();
  }
};
