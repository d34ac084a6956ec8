import { median, round } from '../lib/stats.ts';
import { CLIENTS, httpChangeRate, rawChangeRate } from './changeRates.ts';
import type { BenchContext, Row } from './context.ts';

/**
 * (1) N governance changes posted over HTTP by 8 clients until every one is committed (audit row present), against
 * the same transaction issued directly with `pg` by 8 clients, one change per transaction (issue 23: ≥ 2× with the
 * acceptance record). The changes are metadata updates: each is recorded in PostgreSQL (the acceptance record) before
 * its 202, then queued and applied by the worker in group commits. Engages are not in the mix: they are applied in the
 * request, one transaction each, and have rows of their own. Rounds alternate so noise cancels; each side starts with
 * row 1's dead versions cleared (clearHotRows). One unmeasured round of each side comes first: the api and the worker
 * were just started, and their first thousand requests run cold code (the first measured round was 10 % below the
 * others in every run without it).
 */
const WARM_UP_CHANGES = 1_000;

/** `changes` metadata updates over HTTP until all are committed: changes per second. */
const productRate = (ctx: BenchContext, changes: number, label: string): Promise<number> =>
  httpChangeRate(ctx, {
    path: '/api/governance/system-metadata',
    changes,
    bodyFor: (i) => ({ notes: `bench change ${label}.${i}`, reason: `bench change ${label}.${i}` }),
  });

export const measureChangeThroughput = async (ctx: BenchContext): Promise<Row[]> => {
  const warmUp = Math.min(WARM_UP_CHANGES, ctx.changes);
  await productRate(ctx, warmUp, 'warm-up');
  await rawChangeRate(ctx, warmUp);
  const product: number[] = [];
  const raw: number[] = [];
  for (let round_ = 0; round_ < ctx.rounds; round_ += 1) {
    product.push(await productRate(ctx, ctx.changes, String(round_)));
    raw.push(await rawChangeRate(ctx, ctx.changes));
  }
  const rate = median(product);
  const baseline = median(raw);
  return [
    {
      measure: `change throughput with the acceptance record (HTTP → 202 accepted → committed, N=${ctx.changes}, ${CLIENTS} clients; raw: one change per transaction, ${CLIENTS} clients; after ${warmUp} unmeasured of each)`,
      value: round(rate, 0),
      unit: 'changes/s',
      baseline: round(baseline, 0),
      ratio: round(rate / baseline),
      perRound: product.map((rate_, i) => round(rate_ / (raw[i] as number))),
      target: '≥ 2× raw',
      ...(ctx.quick ? {} : { met: rate / baseline >= 2 }),
    },
  ];
};
