import { findLatestVerificationRun, isLive, QUEUES, readGovernanceRows, type QueueName } from '@valhalla/core';
import { withTimeout } from '../dependencyCalls.js';
import type { ApiDependencies } from '../dependencies.js';
import type { ApiMetrics } from './createApiMetrics.js';

/** Longest a scrape waits on one source; Prometheus' own scrape timeout is 10 s by default. */
const SCRAPE_SOURCE_TIMEOUT_MS = 2_000;

/** The states a queue-depth series is kept for, and the BullMQ states folded into each. */
const QUEUE_STATES = {
  waiting: ['waiting', 'prioritized', 'waiting-children'],
  active: ['active'],
  delayed: ['delayed'],
  failed: ['failed'],
} as const;

const readQueueDepths = async (deps: ApiDependencies, metrics: ApiMetrics): Promise<void> => {
  // BullMQ waits for a connection before its first command; while Redis is down, fail now rather than at the timeout.
  if (deps.redis.status !== 'ready') throw new Error(`redis connection is ${deps.redis.status}`);
  const names = Object.values(QUEUES) as QueueName[];
  const counts = await Promise.all(
    names.map((name) =>
      deps.queues.byName[name].getJobCounts(...Object.values(QUEUE_STATES).flat()),
    ),
  );
  metrics.queueJobs.reset();
  names.forEach((queue, index) => {
    const byState = counts[index] ?? {};
    for (const [state, folded] of Object.entries(QUEUE_STATES)) {
      metrics.queueJobs.set({ queue, state }, folded.reduce((sum, bullState) => sum + (byState[bullState] ?? 0), 0));
    }
  });
};

const readGoLive = async (deps: ApiDependencies, metrics: ApiMetrics): Promise<void> => {
  const rows = await readGovernanceRows(deps.pool);
  if (rows === null) {
    // A missing seed row is a migration problem (migration-verify names it): no value rather than a wrong one.
    for (const gauge of [metrics.live, metrics.goLiveEnabled, metrics.killSwitchEngaged]) gauge.clear();
    return;
  }
  metrics.live.set(isLive(rows.goLive) ? 1 : 0);
  metrics.goLiveEnabled.set(rows.goLive.go_live_enabled ? 1 : 0);
  metrics.killSwitchEngaged.set(rows.goLive.kill_switch_engaged ? 1 : 0);
};

const readLastVerification = async (deps: ApiDependencies, metrics: ApiMetrics): Promise<void> => {
  const run = await findLatestVerificationRun(deps.pool);
  if (run === null) {
    metrics.lastVerificationPassed.clear();
    metrics.lastVerificationAge.clear();
    return;
  }
  metrics.lastVerificationPassed.set(run.passed ? 1 : 0);
  metrics.lastVerificationAge.set(Math.max(0, (Date.now() - Date.parse(run.finished_at)) / 1000));
};

const readDatabase = async (deps: ApiDependencies, metrics: ApiMetrics): Promise<void> => {
  await Promise.all([readGoLive(deps, metrics), readLastVerification(deps, metrics)]);
};

/** What each source sets; its gauges are cleared when it cannot be read, so a scrape never reports stale values. */
const SOURCES = [
  { name: 'redis', read: readQueueDepths, clear: (m: ApiMetrics) => m.queueJobs.reset() },
  {
    name: 'database',
    read: readDatabase,
    clear: (m: ApiMetrics) => {
      for (const gauge of [m.live, m.goLiveEnabled, m.killSwitchEngaged, m.lastVerificationPassed, m.lastVerificationAge]) gauge.clear();
    },
  },
] as const;

/**
 * Reads the state-backed gauges at scrape time, every source in parallel and bounded by a timeout. A source that
 * fails leaves its gauges out of this scrape and counts in `valhalla_scrape_errors_total{source}`; never throws.
 */
export const refreshScrapeGauges = async (deps: ApiDependencies, metrics: ApiMetrics): Promise<void> => {
  await Promise.all(
    SOURCES.map(async (source) => {
      try {
        await withTimeout(source.read(deps, metrics), SCRAPE_SOURCE_TIMEOUT_MS, `metrics source ${source.name}`);
      } catch (error) {
        source.clear(metrics);
        metrics.scrapeErrors.inc({ source: source.name });
        deps.logger.debug({ err: error, source: source.name }, 'metrics source unavailable at scrape');
      }
    }),
  );
};
