import type { FastifyInstance } from 'fastify';
import type { ApiMetrics } from '../metrics/createApiMetrics.js';

/** The route label of a request that matched no route: one value, whatever the URL. */
const UNMATCHED_ROUTE = 'unmatched';

const KNOWN_METHODS: ReadonlySet<string> = new Set(['GET', 'HEAD', 'POST', 'PUT', 'PATCH', 'DELETE', 'OPTIONS']);

/**
 * Counts and times every answered request by method, route pattern (`/api/jobs/:id`, never the raw URL, so label
 * cardinality stays bounded) and status code. Registered on the root instance before any route.
 */
export const registerHttpMetrics = (app: FastifyInstance, metrics: ApiMetrics): void => {
  app.addHook('onResponse', async (request, reply) => {
    // A 404 from the not-found handler has no route pattern; neither does a method no route declares.
    const route = request.is404 ? UNMATCHED_ROUTE : (request.routeOptions.url ?? UNMATCHED_ROUTE);
    const labels = {
      method: KNOWN_METHODS.has(request.method) ? request.method : 'OTHER',
      route,
      status_code: String(reply.statusCode),
    };
    metrics.httpRequests.inc(labels);
    metrics.httpDuration.observe(labels, reply.elapsedTime / 1000);
  });
};
