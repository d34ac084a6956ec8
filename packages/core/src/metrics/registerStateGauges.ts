import type { Queue } from 'bullmq';
import { Gauge, type Registry } from 'prom-client';
import type { DatabasePool } from '../db/index.js';
import type { QueueName } from '@valhalla/contract';
import { withTimeout } from '../lifecycle/withTimeout.js';
import type { Logger } from '../logger/index.js';
import { isLive } from '../state/rules/rules.js';
import { findLatestVerificationRun } from '../state/queries/verificationRuns.js';
import { readGovernanceRows } from '../state/queries/governanceState.js';
import { newestHeartbeatAgeSeconds } from '../state/queries/workerHeartbeats.js';
import { readOpenAcceptanceAge } from '../state/queries/acceptedJobs.js';
import { readQueueDepths, QUEUE_DEPTH_STATES, type QueueDepth } from './queueDepth.js';
import { listSubscriptionRows, type SubscriptionRow } from '../notifications/subscriptionRows.js';

/**
 * The state gauges, defined once for every process that exports them (api and worker), so a dashboard or an alert
 * means the same thing whichever process it scrapes:
 * - `valhalla_live`, `valhalla_go_live_enabled`, `valhalla_kill_switch_engaged`: row 1 of go_live_state (1/0);
 * - `valhalla_last_verification_passed`, `valhalla_last_verification_age_seconds`: the latest migration-verify run
 *   **of the current migration head** (the run go-live enable needs); absent before there is one;
 * - `valhalla_queue_jobs{queue,state}`: depth by QUEUE_DEPTH_STATES;
 * - `valhalla_worker_heartbeat_age_seconds`: since the newest worker heartbeat; absent when no worker has one;
 * - `valhalla_accepted_unexecuted_jobs`, `valhalla_accepted_unexecuted_oldest_age_seconds`: accepted jobs (the
 *   acceptance record) neither executed nor void, and the age of the oldest (0 when none): a growing age means
 *   accepted changes are not being applied (no worker, Redis lost and the reconciler not running, a stuck queue);
 * - `valhalla_metrics_source_up{source}`: whether this scrape could read `redis` and `database`;
 * - `valhalla_notification_backlog`, `valhalla_notification_oldest_pending_age_seconds`,
 *   `valhalla_notification_dead_lettered`, `valhalla_notification_circuit_open`, each `{subscription, kind}`: the
 *   delivery status of every notification subscription (docs/notifications.md).
 * An unknown value is absent, never 0 (a gauge of 0 would say "not live" while the database is merely unreachable).
 */
export const STATE_GAUGE_NAMES = {
  live: 'valhalla_live',
  goLiveEnabled: 'valhalla_go_live_enabled',
  killSwitchEngaged: 'valhalla_kill_switch_engaged',
  lastVerificationPassed: 'valhalla_last_verification_passed',
  lastVerificationAge: 'valhalla_last_verification_age_seconds',
  queueJobs: 'valhalla_queue_jobs',
  workerHeartbeatAge: 'valhalla_worker_heartbeat_age_seconds',
  acceptedUnexecuted: 'valhalla_accepted_unexecuted_jobs',
  acceptedUnexecutedOldestAge: 'valhalla_accepted_unexecuted_oldest_age_seconds',
  sourceUp: 'valhalla_metrics_source_up',
  notificationBacklog: 'valhalla_notification_backlog',
  notificationOldestPendingAge: 'valhalla_notification_oldest_pending_age_seconds',
  notificationDeadLettered: 'valhalla_notification_dead_lettered',
  notificationCircuitOpen: 'valhalla_notification_circuit_open',
} as const;

export type StateGaugeSources = {
  /** Queues to count jobs on; a scrape must not wait for Redis, so give them a fail-fast connection or `redisReady`. */
  queues: Readonly<Record<QueueName, Queue>>;
  /** False while the queues' connection is down: the redis source then fails at once instead of at the timeout. */
  redisReady?: () => boolean;
  pool: DatabasePool;
  /** The current migration head (the code's chain head). */
  migrationHead: () => string | Promise<string>;
  /** Bound of each source's read per scrape. */
  timeoutMs: number;
  log: Logger;
  /** Called for each source that failed in a scrape (the api counts them in valhalla_scrape_errors_total). */
  onSourceError?: (source: 'redis' | 'database') => void;
  /** NOTIFICATION_CIRCUIT_THRESHOLD: consecutive failures at which a subscription's circuit counts as open. */
  notificationCircuitThreshold: number;
};

type DatabaseReading = {
  rows: Awaited<ReturnType<typeof readGovernanceRows>>;
  verification: Awaited<ReturnType<typeof findLatestVerificationRun>>;
  heartbeatAge: number | null;
  open: Awaited<ReturnType<typeof readOpenAcceptanceAge>>;
  subscriptions: SubscriptionRow[];
};
type Reading = { queues: Record<QueueName, QueueDepth> | undefined; database: DatabaseReading | undefined };


export type StateGauges = {
  /**
   * Resolves when this scrape's reads are done (joining them when called from another metric's `collect`), so a
   * metric that `onSourceError` changes reports this scrape's failures, not the previous one's.
   */
  settled(): Promise<void>;
};

/**
 * Registers the state gauges on `registry`, read at scrape time. A source that fails or is slow leaves its gauges
 * empty (never stale values) and sets `valhalla_metrics_source_up{source}` to 0; the scrape itself still answers.
 */
export const registerStateGauges = (registry: Registry, sources: StateGaugeSources): StateGauges => {
  const registers = [registry];

  const readDatabase = async (): Promise<DatabaseReading> => {
    const head = await sources.migrationHead();
    const [rows, verification, heartbeatAge, open, subscriptions] = await Promise.all([
      readGovernanceRows(sources.pool),
      findLatestVerificationRun(sources.pool, head),
      newestHeartbeatAgeSeconds(sources.pool),
      readOpenAcceptanceAge(sources.pool),
      listSubscriptionRows(sources.pool),
    ]);
    return { rows, verification, heartbeatAge, open, subscriptions };
  };
  const readQueues = async () => {
    if (sources.redisReady !== undefined && !sources.redisReady()) throw new Error('the redis connection is not ready');
    return readQueueDepths(sources.queues);
  };
  const attempt = <T>(source: 'redis' | 'database', read: () => Promise<T>): Promise<T | undefined> =>
    withTimeout(read(), sources.timeoutMs, `the ${source} reading`).catch((err: unknown) => {
      sources.log.warn({ err, source }, 'metrics source unavailable at scrape');
      sources.onSourceError?.(source);
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
    name: STATE_GAUGE_NAMES.sourceUp,
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
    name: STATE_GAUGE_NAMES.queueJobs,
    help: `Jobs per queue and state, read at scrape time (waiting includes ${QUEUE_DEPTH_STATES.waiting.slice(1).join(' and ')}).`,
    labelNames: ['queue', 'state'] as const,
    registers,
    async collect() {
      const { queues } = await reading();
      this.reset();
      if (queues === undefined) return;
      for (const [queue, depth] of Object.entries(queues)) {
        for (const [state, count] of Object.entries(depth)) this.set({ queue, state }, count);
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
  databaseGauge(STATE_GAUGE_NAMES.live, '1 when live: go-live enabled and the kill switch released (row 1 of go_live_state).', ({ rows }) =>
    rows === null ? undefined : flag(isLive(rows.goLive)),
  );
  databaseGauge(STATE_GAUGE_NAMES.goLiveEnabled, 'go_live_state.go_live_enabled of row 1.', ({ rows }) =>
    rows === null ? undefined : flag(rows.goLive.go_live_enabled),
  );
  databaseGauge(STATE_GAUGE_NAMES.killSwitchEngaged, 'go_live_state.kill_switch_engaged of row 1.', ({ rows }) =>
    rows === null ? undefined : flag(rows.goLive.kill_switch_engaged),
  );
  databaseGauge(
    STATE_GAUGE_NAMES.lastVerificationPassed,
    'The latest migration-verify run of the current migration head: 1 passed, 0 failed; absent before any run.',
    ({ verification }) => (verification === null ? undefined : flag(verification.passed)),
  );
  databaseGauge(
    STATE_GAUGE_NAMES.lastVerificationAge,
    'Seconds since the latest migration-verify run of the current migration head finished; absent before any run.',
    ({ verification }) => (verification === null ? undefined : Math.max(0, (Date.now() - Date.parse(verification.finished_at)) / 1000)),
  );
  databaseGauge(
    STATE_GAUGE_NAMES.workerHeartbeatAge,
    'Seconds since the newest worker heartbeat (worker_heartbeats); absent when no worker has one.',
    ({ heartbeatAge }) => (heartbeatAge === null ? undefined : Math.max(0, heartbeatAge)),
  );
  databaseGauge(
    STATE_GAUGE_NAMES.acceptedUnexecuted,
    'Accepted jobs (the acceptance record in PostgreSQL) neither executed nor void.',
    ({ open }) => open.open,
  );
  databaseGauge(
    STATE_GAUGE_NAMES.acceptedUnexecutedOldestAge,
    'Seconds since the oldest accepted job that is neither executed nor void was accepted; 0 when there is none.',
    ({ open }) => Math.max(0, open.oldestAgeSeconds ?? 0),
  );

  /** One series per subscription, read with the state: none at all without subscriptions. */
  const subscriptionGauge = (name: string, help: string, value: (row: SubscriptionRow) => number) =>
    new Gauge({
      name,
      help,
      labelNames: ['subscription', 'kind'] as const,
      registers,
      async collect() {
        const { database } = await reading();
        this.reset();
        for (const row of database?.subscriptions ?? []) this.set({ subscription: row.id, kind: row.kind }, value(row));
      },
    });
  subscriptionGauge(STATE_GAUGE_NAMES.notificationBacklog, 'Pending notification deliveries per subscription.', (row) => row.backlog);
  subscriptionGauge(
    STATE_GAUGE_NAMES.notificationOldestPendingAge,
    'Seconds since the oldest pending delivery of a subscription was written (0 without a backlog).',
    (row) => (row.oldest_pending_at === null ? 0 : Math.max(0, (Date.parse(row.read_at) - Date.parse(row.oldest_pending_at)) / 1000)),
  );
  subscriptionGauge(
    STATE_GAUGE_NAMES.notificationDeadLettered,
    '1 when a subscription is dead-lettered: its deliveries wait until an operator resumes it.',
    (row) => flag(row.dead_lettered_at !== null),
  );
  subscriptionGauge(
    STATE_GAUGE_NAMES.notificationCircuitOpen,
    '1 when a subscription failed NOTIFICATION_CIRCUIT_THRESHOLD times in a row (it probes at the backoff cap).',
    (row) => flag(row.consecutive_failures >= sources.notificationCircuitThreshold),
  );
  return { settled: async () => void (await reading()) };
};
