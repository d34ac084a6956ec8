import type { FastifyInstance } from 'fastify';
import type { ApiDependencies } from '../dependencies.js';
import { ApiError } from '../errors.js';
import { createMetricsAuthorizer } from '../plugins/metricsAuth.js';
import type { ApiMetrics } from '../metrics/createApiMetrics.js';
import { refreshScrapeGauges } from '../metrics/refreshScrapeGauges.js';

/**
 * GET /metrics: Prometheus text format; public unless METRICS_TOKEN is set, then it needs that bearer token (401
 * UNAUTHENTICATED otherwise). State-backed gauges are read at scrape time; a
 * dependency that is down leaves its gauges out and is counted, and the answer is still 200.
 */
export const metricsRoutes = async (app: FastifyInstance, deps: ApiDependencies, metrics: ApiMetrics): Promise<void> => {
  const schema = {
    summary: 'Prometheus metrics (text format; bearer METRICS_TOKEN when set)',
    description:
      'HTTP request count and latency by route pattern and status, queue depth by queue and state, go-live gauges ' +
      '(valhalla_live, valhalla_go_live_enabled, valhalla_kill_switch_engaged), the last verification result and ' +
      'age, scrape errors by source, and the default process metrics.',
    tags: ['operations'],
    security: [],
    produces: ['text/plain'],
  };
  const authorized = createMetricsAuthorizer(deps.config.metricsToken);
  app.get('/metrics', { schema }, async (request, reply) => {
    if (!authorized(request.headers.authorization)) {
      reply.header('WWW-Authenticate', 'Bearer');
      throw new ApiError('UNAUTHENTICATED', 'GET /metrics needs Authorization: Bearer <METRICS_TOKEN>');
    }
    await refreshScrapeGauges(deps, metrics);
    const text = await metrics.registry.metrics();
    return reply.type(metrics.registry.contentType).send(text);
  });
};
