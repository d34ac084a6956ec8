import { collectDefaultMetrics, Counter, Gauge, Histogram, Registry } from 'prom-client';

/**
 * The api's Prometheus metrics, in a registry of their own per server instance (never prom-client's global one), so
 * that several servers in one process (tests) do not share or clash over series. Label values are route patterns,
 * queue names, states and status codes only: never a raw URL, a token, an actor or a job id. The state gauges (live,
 * flags, last verification, queue depth) are the shared ones of @valhalla/core's registerStateGauges, registered on
 * this registry by buildServer.
 */
export type ApiMetrics = ReturnType<typeof createApiMetrics>;

/** Request latency buckets, in seconds: the routes answer in milliseconds; dependency timeouts land at 1–2 s. */
const LATENCY_BUCKETS = [0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10];

export const createApiMetrics = (options: {
  release: string;
  /** Resolves when the scrape's state reads are done; scrape errors are reported after them (same scrape). */
  sourcesRead?: () => Promise<void>;
}) => {
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
    scrapeErrors: new Counter({
      name: 'valhalla_scrape_errors_total',
      help: 'Scrapes that could not read a source (its gauges are left out of that scrape), by source (redis, database)',
      labelNames: ['source'],
      ...labelled,
      async collect() {
        await options.sourcesRead?.();
      },
    }),
  };
};
