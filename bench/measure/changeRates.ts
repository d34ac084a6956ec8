import { randomUUID } from 'node:crypto';
import { postLoad } from '../lib/http.ts';
import { rawChangeTransaction } from '../lib/rawChange.ts';
import { runPool } from '../lib/stats.ts';
import { clearHotRows, committedChanges, waitForCommitted, type BenchContext } from './context.ts';

/** Both sides of every throughput comparison (issues 23 and 28): 8 clients. */
export const CLIENTS = 8;

/**
 * `changes` POSTs to `path` by 8 clients, timed until every accepted one is committed (its audit row present): changes
 * per second. Starts with row 1's dead versions cleared. At least `minAccepted` of them must be answered 2xx (an odd
 * 503 on a loaded machine is never applied, and is not counted).
 */
export const httpChangeRate = async (
  ctx: BenchContext,
  options: { path: string; changes: number; bodyFor: (index: number) => unknown; minAccepted?: number },
): Promise<number> => {
  await clearHotRows(ctx.pool);
  const before = await committedChanges(ctx.pool);
  const started = performance.now();
  const load = await postLoad({ url: ctx.apiUrl, path: options.path, token: ctx.token, total: options.changes, concurrency: CLIENTS, bodyFor: options.bodyFor });
  const minAccepted = options.minAccepted ?? options.changes;
  if (load.ok < minAccepted) throw new Error(`only ${load.ok} of ${options.changes} posts were accepted (${load.non2xx} non-2xx)`);
  await waitForCommitted(ctx.pool, before + load.ok, 300_000);
  return load.ok / ((performance.now() - started) / 1000);
};

/**
 * `changes` raw change transactions (rawChange.ts: the worker's transaction issued with `pg`, no HTTP, no queue), one
 * change each, by 8 clients, alternately engaging and releasing: changes per second. Starts with row 1's dead
 * versions cleared.
 */
export const rawChangeRate = async (ctx: BenchContext, changes: number): Promise<number> => {
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
