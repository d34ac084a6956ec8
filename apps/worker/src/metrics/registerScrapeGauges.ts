import {
  QUEUES,
  findLatestVerificationRun,
  isLive,
  readGovernanceRows,
  type DatabasePool,
  type Logger,
  type QueueName,
} from '@valhalla/core';
import type { Queue } from 'bullmq';
import { Gauge, type Registry } from 'prom-client';
import { withTimeout } from '../withTimeout.js';

/** The queue states exposed as depth; `waiting` includes prioritized jobs (every governance job has a priority). */
export const QUEUE_DEPTH_STATES = ['waiting', 'active', 'delayed', 'failed'] as const;

export type ScrapeSources = {
  /** Queues to count jobs on, on a fail-fast connection of their own (a scrape must not wait for Redis). */
  queues: Readonly<Record<QueueName, Queue>>;
  pool: DatabasePool;
  /** The verification gauges describe the latest run of this head: the one go-live enable needs. */
  migrationHead: string;
  /** Bound of each source's read per scrape. */
  timeoutMs: number;
  log: Logger;
};

const bounded = async <T>(read: () => Promise<T>, timeoutMs: number): Promise<T> => {
  const outcome = await withTimeout(read(), timeoutMs);
  if (outcome.timedOut) throw new Error(`no answer within ${timeoutMs} ms`);
  return outcome.value;
};

type QueueCounts = Record<QueueName, Record<string, number>>;
type DatabaseReading = {
  rows: Awaited<ReturnType<typeof readGovernanceRows>>;
  verification: Awaited<ReturnType<typeof findLatestVerificationRun>>;
};
/** What one scrape read; undefined for a source that failed or did not answer in time. */
type Reading = { queues: QueueCounts | undefined; database: DatabaseReading | undefined };

/**
 * Registers the gauges read at scrape time: queue depth from Redis, go-live state and the last verification from
 * PostgreSQL. A source that fails or is slow leaves its gauges empty (never stale values) and sets
 * `valhalla_worker_metrics_source_up{source}` to 0; the scrape itself still answers.
 */
export const registerScrapeGauges = (registry: Registry, sources: ScrapeSources): void => {
  const registers = [registry];

  const readQueues = async (): Promise<QueueCounts> => {
    const entries = await Promise.all(
      Object.values(QUEUES).map(async (queue) => [queue, await sources.queues[queue].getJobCounts('waiting', 'prioritized', 'active', 'delayed', 'failed')] as const),
    );
    return Object.fromEntries(entries) as QueueCounts;
  };
  const readDatabase = async (): Promise<DatabaseReading> => {
    const [rows, verification] = await Promise.all([
      readGovernanceRows(sources.pool),
      findLatestVerificationRun(sources.pool, sources.migrationHead),
    ]);
    return { rows, verification };
  };
  const attempt = <T>(source: string, read: () => Promise<T>): Promise<T | undefined> =>
    bounded(read, sources.timeoutMs).catch((err: unknown) => {
      sources.log.warn({ err, source }, 'metrics source unavailable at scrape');
      return undefined;
    });

  // prom-client collects every metric of a scrape concurrently, starting them in one synchronous pass: the first
  // collect starts the reads, the others of the same scrape share them, and the next scrape reads afresh.
  let pending: Promise<Reading> | undefined;
  const reading = (): Promise<Reading> => {
    if (pending === undefined) {
      const current = Promise.all([attempt('redis', readQueues), attempt('database', readDatabase)]).then(([queues, database]) => ({ queues, database }));
      pending = current;
      void current.finally(() => {
        if (pending === current) pending = undefined;
      });
    }
    return pending;
  };

  new Gauge({
    name: 'valhalla_worker_metrics_source_up',
    help: 'Whether this scrape could read the source (redis: queue depth; database: state and verification).',
    labelNames: ['source'] as const,
    registers,
    async collect() {
      const { queues, database } = await reading();
      this.set({ source: 'redis' }, queues === undefined ? 0 : 1);
      this.set({ source: 'database' }, database === undefined ? 0 : 1);
    },
  });

  new Gauge({
    name: 'valhalla_queue_jobs',
    help: 'Jobs in each queue by state (waiting includes prioritized), read at scrape time.',
    labelNames: ['queue', 'state'] as const,
    registers,
    async collect() {
      const { queues } = await reading();
      this.reset();
      if (queues === undefined) return;
      for (const [queue, counts] of Object.entries(queues)) {
        for (const state of QUEUE_DEPTH_STATES) {
          this.set({ queue, state }, state === 'waiting' ? (counts.waiting ?? 0) + (counts.prioritized ?? 0) : (counts[state] ?? 0));
        }
      }
    },
  });

  const databaseGauge = (name: string, help: string, value: (reading: DatabaseReading) => number | undefined) =>
    new Gauge({
      name,
      help,
      registers,
      async collect() {
        const { database } = await reading();
        const current = database === undefined ? undefined : value(database);
        // A gauge without labels always shows a value (0 after reset): remove it, an unknown value must be absent.
        if (current === undefined) this.remove({});
        else this.set(current);
      },
    });
  const flag = (on: boolean) => (on ? 1 : 0);
  databaseGauge('valhalla_live', '1 when live: go-live enabled and the kill switch released (row 1 of go_live_state).', ({ rows }) =>
    rows === null ? undefined : flag(isLive(rows.goLive)),
  );
  databaseGauge('valhalla_go_live_enabled', 'go_live_state.go_live_enabled of row 1.', ({ rows }) =>
    rows === null ? undefined : flag(rows.goLive.go_live_enabled),
  );
  databaseGauge('valhalla_kill_switch_engaged', 'go_live_state.kill_switch_engaged of row 1.', ({ rows }) =>
    rows === null ? undefined : flag(rows.goLive.kill_switch_engaged),
  );
  databaseGauge(
    'valhalla_last_verification_passed',
    "1 when the latest migration-verify run of this worker's migration head passed, 0 when it failed; absent before any run.",
    ({ verification }) => (verification === null ? undefined : flag(verification.passed)),
  );
  databaseGauge(
    'valhalla_last_verification_age_seconds',
    "Seconds since the latest migration-verify run of this worker's migration head finished; absent before any run.",
    ({ verification }) => (verification === null ? undefined : Math.max(0, (Date.now() - Date.parse(verification.finished_at)) / 1000)),
  );
};
