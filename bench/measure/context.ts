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
