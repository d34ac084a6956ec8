import type { FastifyInstance } from 'fastify';
import type { ApiMetrics } from '../metrics/createApiMetrics.js';

/**
 * GET /metrics (public, like /health): Prometheus text format. State-backed gauges are read at scrape time; a
 * dependency that is down leaves its gauges out and is counted, and the answer is still 200.
 */
export const metricsRoutes = async (app: FastifyInstance, metrics: ApiMetrics): Promise<void> => {
  const schema = {
    summary: 'Prometheus metrics (text format, public)',
    description:
      'HTTP request count and latency by route pattern and status, queue depth by queue and state, go-live gauges ' +
      '(valhalla_live, valhalla_go_live_enabled, valhalla_kill_switch_engaged), the last verification of the current ' +
      'migration head (result and age), whether each source could be read, scrape errors by source, and the default process metrics.',
    tags: ['operations'],
    security: [],
    produces: ['text/plain'],
  };
  app.get('/metrics', { schema }, async (_request, reply) => {
    const text = await metrics.registry.metrics();
    return reply.type(metrics.registry.contentType).send(text);
  });
};
