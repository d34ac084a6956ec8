import { createGovernanceQueues, registerStateGauges, type Config, type DatabasePool, type Lifecycle, type Logger, type RedisClient } from '@valhalla/core';
import type { WorkerMetrics } from '../metrics/createWorkerMetrics.js';
import { startMetricsServer } from '../metrics/startMetricsServer.js';
import { throttledErrorLog } from '../throttledErrorLog.js';

const QUEUES_CLOSE_TIMEOUT_MS = 2_000;
const METRICS_CLOSE_TIMEOUT_MS = 2_000;
/** Bound of each scrape-time read (Redis counts, database state): a scrape answers within a Prometheus timeout. */
const METRICS_SOURCE_TIMEOUT_MS = 2_000;

/**
 * Serves `GET /metrics` on config.metricsPort with the state gauges read at scrape time, and registers the listener and
 * its queues with `lifecycle`. Resolves to the port it listens on.
 */
export const serveWorkerMetrics = async (options: {
  config: Config & { metricsPort: number };
  log: Logger;
  metrics: WorkerMetrics;
  pool: DatabasePool;
  lifecycle: Lifecycle;
  migrationHead: string;
  /** A fail-fast connection (no offline queue): while Redis is down a scrape reports it instead of waiting. */
  connection: RedisClient;
}): Promise<number> => {
  const { config, log, lifecycle } = options;
  const metricsQueues = createGovernanceQueues({ connection: options.connection, prefix: config.queuePrefix });
  for (const queue of Object.values(metricsQueues.byName)) queue.on('error', throttledErrorLog(log, 'metrics queue error'));
  lifecycle.add('close metrics queues', () => metricsQueues.close(), { timeoutMs: QUEUES_CLOSE_TIMEOUT_MS });
  registerStateGauges(options.metrics.registry, {
    queues: metricsQueues.byName,
    pool: options.pool,
    migrationHead: () => options.migrationHead,
    timeoutMs: METRICS_SOURCE_TIMEOUT_MS,
    log,
    notificationCircuitThreshold: config.notifications.circuitThreshold,
  });
  const server = await startMetricsServer({ registry: options.metrics.registry, host: config.host, port: config.metricsPort, log });
  lifecycle.add('close metrics listener', () => server.close(), { timeoutMs: METRICS_CLOSE_TIMEOUT_MS });
  return server.port;
};
