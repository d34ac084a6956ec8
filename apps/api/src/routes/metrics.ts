import type { FastifyInstance } from 'fastify';
import type { ApiDependencies } from '../dependencies.js';
import { ApiError } from '../errors.js';
import { createMetricsAuthorizer } from '../plugins/metricsAuth.js';
import type { ApiMetrics } from '../metrics/createApiMetrics.js';

/**
 * GET /metrics: Prometheus text format. With METRICS_TOKEN it needs that bearer token (401 UNAUTHENTICATED
 * otherwise). Without it, it is public outside production and closed in production (404 NOT_FOUND naming
 * METRICS_TOKEN): a scrape reads every queue and the database, which an anonymous client must not be able to make
 * the api do on the kill switch's path. State-backed gauges are read at scrape time; a dependency that is down leaves
 * its gauges out and is counted, and the answer is still 200.
 */
export const metricsRoutes = async (app: FastifyInstance, deps: ApiDependencies, metrics: ApiMetrics): Promise<void> => {
  const schema = {
    summary: 'Prometheus metrics (text format; bearer METRICS_TOKEN when set; closed in production without it)',
    description:
      'HTTP request count and latency by route pattern and status, queue depth by queue and state, go-live gauges ' +
      '(valhalla_live, valhalla_go_live_enabled, valhalla_kill_switch_engaged), the last verification of the current ' +
      'migration head (result and age), whether each source could be read, scrape errors by source, and the default process metrics.',
    tags: ['operations'],
    security: [],
    produces: ['text/plain'],
  };
  const authorized = createMetricsAuthorizer(deps.config.metricsToken);
  app.get('/metrics', { schema }, async (request, reply) => {
    if (!deps.config.metricsEnabled) {
      throw new ApiError('NOT_FOUND', 'GET /metrics is closed in production until METRICS_TOKEN is set; then scrape it with Authorization: Bearer <METRICS_TOKEN>');
    }
    if (!authorized(request.headers.authorization)) {
      reply.header('WWW-Authenticate', 'Bearer');
      throw new ApiError('UNAUTHENTICATED', 'GET /metrics needs Authorization: Bearer <METRICS_TOKEN>');
    }
    const text = await metrics.registry.metrics();
    return reply.type(metrics.registry.contentType).send(text);
  });
};
