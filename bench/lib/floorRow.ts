import type { Row } from '../measure/context.ts';
import { percentile, round } from './stats.ts';

/** One round of a comparison: the product's samples and the raw transaction's (rawFloor.ts), taken side by side. */
export type FloorRound = { product: readonly number[]; raw: readonly number[] };

/**
 * A latency row judged against the raw single transaction of the same run: the product's percentile `p` over every
 * round's samples, the raw transaction's percentile `p` over its samples (the baseline), their ratio and each
 * round's ratio (the spread). A quick run keeps the target and claims no verdict.
 */
export const floorRow = (options: { measure: string; rounds: readonly FloorRound[]; p: 50 | 99; maxRatio: number; quick: boolean }): Row => {
  const ratioOf = (product: readonly number[], raw: readonly number[]) => percentile(product, options.p) / percentile(raw, options.p);
  const value = percentile(options.rounds.flatMap((r) => r.product), options.p);
  const baseline = percentile(options.rounds.flatMap((r) => r.raw), options.p);
  return {
    measure: options.measure,
    value: round(value),
    unit: 'ms',
    baseline: round(baseline),
    ratio: round(value / baseline),
    perRound: options.rounds.map((r) => round(ratioOf(r.product, r.raw))),
    target: `≤ ${options.maxRatio}× raw p${options.p}`,
    ...(options.quick ? {} : { met: value / baseline <= options.maxRatio }),
  };
};
