import type pg from 'pg';
import type { Queue } from 'bullmq';
import type { BenchProcess } from '../lib/environment.ts';

/** What every measurement gets: the running system and direct handles for baselines. */
export type BenchContext = {
  quick: boolean;
  apiUrl: string;
  token: string;
  /** An app token (APP_TOKENS): what applications use for /live, the stream and OFREP. */
  appToken: string;
  /** AUDIT_HMAC_KEYS of the bench's processes (production mode requires it). */
  auditKeys: string;
  databaseUrl: string;
  redisUrl: string;
  prefix: string;
  pool: pg.Pool;
  governanceQueue: Queue;
  api: BenchProcess;
  worker: BenchProcess;
  changes: number;
  concurrency: number;
  rounds: number;
};

export type Row = {
  measure: string;
  value: number;
  unit: string;
  baseline?: number;
  ratio?: number;
  /** The judged figure in each round (the ratio when the row has a baseline, else the value): the spread. */
  perRound?: number[];
  target?: string;
  met?: boolean;
};

/** The highest audit id: the audit log's ids are its chain positions, so this counts committed changes. */
export const committedChanges = async (pool: pg.Pool): Promise<number> =>
  Number((await pool.query<{ n: string }>('SELECT coalesce(max(id), 0) AS n FROM public.governance_audit_log')).rows[0]?.n);

export const waitForCommitted = async (pool: pg.Pool, target: number, timeoutMs: number): Promise<void> => {
  const deadline = Date.now() + timeoutMs;
  while ((await committedChanges(pool)) < target) {
    if (Date.now() > deadline) throw new Error(`only ${await committedChanges(pool)} of ${target} changes committed in time`);
    await new Promise((resolve) => setTimeout(resolve, 10));
  }
};

/**
 * Clears the dead versions of the rows every change updates (row 1 of `go_live_state` and `system_metadata`) before a
 * measured round, so that each side of a comparison starts from the same table. A PostgreSQL with autovacuum off
 * (this machine's) never clears them, and even with it on, a row updated by 8 clients at once is rarely pruned (the
 * page is always pinned): measured in a fresh database, rounds of 1,000 raw changes went 425 → 107 changes/s without
 * this, and stayed at 580-670 with it. VACUUM of the bench's own database; it waits for nothing but the two rows.
 */
export const clearHotRows = async (pool: pg.Pool): Promise<void> => {
  await pool.query('VACUUM public.go_live_state, public.system_metadata');
};
