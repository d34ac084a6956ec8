import { collectDefaultMetrics, Counter, Gauge, Histogram, Registry } from 'prom-client';
import { OptionalGauge } from './OptionalGauge.js';

/**
 * The api's Prometheus metrics, in a registry of their own per server instance (never prom-client's global one), so
 * that several servers in one process (tests) do not share or clash over series. Label values are route patterns,
 * queue names, states and status codes only: never a raw URL, a token, an actor or a job id.
 */
export type ApiMetrics = ReturnType<typeof createApiMetrics>;

/** Request latency buckets, in seconds: the routes answer in milliseconds; dependency timeouts land at 1–2 s. */
const LATENCY_BUCKETS = [0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10];

export const createApiMetrics = (options: { release: string }) => {
  const registry = new Registry();
  collectDefaultMetrics({ register: registry });
  const labelled = { registers: [registry] };
  const buildInfo = new Gauge({ name: 'valhalla_build_info', help: 'Always 1; the release the api runs', labelNames: ['release'], ...labelled });
  buildInfo.set({ release: options.release }, 1);
  return {
    registry,
    httpRequests: new Counter({
      name: 'valhalla_http_requests_total',
      help: 'HTTP requests answered, by method, route pattern (unmatched for unknown routes) and status code',
      labelNames: ['method', 'route', 'status_code'],
      ...labelled,
    }),
    httpDuration: new Histogram({
      name: 'valhalla_http_request_duration_seconds',
      help: 'HTTP request latency, by method, route pattern and status code',
      labelNames: ['method', 'route', 'status_code'],
      buckets: LATENCY_BUCKETS,
      ...labelled,
    }),
    queueJobs: new Gauge({
      name: 'valhalla_queue_jobs',
      help: 'Jobs per queue and state at scrape time (prioritized and waiting-children count as waiting)',
      labelNames: ['queue', 'state'],
      ...labelled,
    }),
    live: new OptionalGauge({ name: 'valhalla_live', help: '1 when live (go-live enabled and kill switch released), else 0', ...labelled }),
    goLiveEnabled: new OptionalGauge({ name: 'valhalla_go_live_enabled', help: 'go_live_state.go_live_enabled of row 1 (1/0)', ...labelled }),
    killSwitchEngaged: new OptionalGauge({ name: 'valhalla_kill_switch_engaged', help: 'go_live_state.kill_switch_engaged of row 1 (1/0)', ...labelled }),
    lastVerificationPassed: new OptionalGauge({
      name: 'valhalla_last_verification_passed',
      help: 'The latest migration-verify run: 1 passed, 0 failed; absent when there is none',
      ...labelled,
    }),
    lastVerificationAge: new OptionalGauge({
      name: 'valhalla_last_verification_age_seconds',
      help: 'Seconds since the latest migration-verify run finished; absent when there is none',
      ...labelled,
    }),
    scrapeErrors: new Counter({
      name: 'valhalla_scrape_errors_total',
      help: 'Scrapes that could not read a source (its gauges are left out of that scrape), by source',
      labelNames: ['source'],
      ...labelled,
    }),
  };
};
