import { randomUUID } from 'node:crypto';
import { postLoad } from '../lib/http.ts';
import { rawChangeTransaction } from '../lib/rawChange.ts';
import { median, round, runPool } from '../lib/stats.ts';
import { clearHotRows, committedChanges, waitForCommitted, type BenchContext, type Row } from './context.ts';

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
/** The comparison: 8 clients on both sides. */
const CLIENTS = 8;
const WARM_UP_CHANGES = 1_000;

/** `changes` metadata updates over HTTP until all are committed: changes per second. */
const productRate = async (ctx: BenchContext, changes: number, label: string): Promise<number> => {
  await clearHotRows(ctx.pool);
  const before = await committedChanges(ctx.pool);
  const started = performance.now();
  const load = await postLoad({
    url: ctx.apiUrl,
    path: '/api/governance/system-metadata',
    token: ctx.token,
    total: changes,
    concurrency: CLIENTS,
    bodyFor: (i) => ({ notes: `bench change ${label}.${i}`, reason: `bench change ${label}.${i}` }),
  });
  if (load.ok !== changes) throw new Error(`only ${load.ok} of ${changes} posts were accepted (${load.non2xx} non-2xx)`);
  await waitForCommitted(ctx.pool, before + changes, 300_000);
  return changes / ((performance.now() - started) / 1000);
};

/** `changes` raw change transactions, one change each: changes per second. */
const rawRate = async (ctx: BenchContext, changes: number): Promise<number> => {
  await clearHotRows(ctx.pool);
  const started = performance.now();
  await runPool(changes, CLIENTS, async (i) => {
    const client = await ctx.pool.connect();
    try {
      await rawChangeTransaction(client, `raw-${randomUUID()}`, i % 2 === 0);
    } finally {
      client.release();
    }
  });
  return changes / ((performance.now() - started) / 1000);
};

export const measureChangeThroughput = async (ctx: BenchContext): Promise<Row[]> => {
  const warmUp = Math.min(WARM_UP_CHANGES, ctx.changes);
  await productRate(ctx, warmUp, 'warm-up');
  await rawRate(ctx, warmUp);
  const product: number[] = [];
  const raw: number[] = [];
  for (let round_ = 0; round_ < ctx.rounds; round_ += 1) {
    product.push(await productRate(ctx, ctx.changes, String(round_)));
    raw.push(await rawRate(ctx, ctx.changes));
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
