import cookie from '@fastify/cookie';
import cors from '@fastify/cors';
import rateLimit from '@fastify/rate-limit';
import { registerStateGauges } from '@valhalla/core';
import Fastify, { type FastifyBaseLogger, type FastifyInstance } from 'fastify';
import { serializerCompiler, validatorCompiler } from 'fastify-type-provider-zod';
import { adminRoutes, ADMIN_PREFIX } from './admin/adminRoutes.js';
import { registerAuth } from './auth.js';
import type { ApiDependencies } from './dependencies.js';
import { ApiError } from './errors.js';
import { consoleRoutes } from './console/consoleRoutes.js';
import { createApiMetrics, type ApiMetrics } from './metrics/createApiMetrics.js';
import { registerOpenApi } from './openapi/registerOpenApi.js';
import { createClientErrorHandler } from './plugins/clientErrors.js';
import { createConnectionGuard, registerConnectionGuard, type EdgeBounds } from './edge/connectionGuard.js';
import { registerErrorHandling, sendError } from './plugins/errorHandling.js';
import { registerHttpMetrics } from './plugins/httpMetrics.js';
import { BODY_LIMIT_BYTES, registerJsonBody } from './plugins/jsonBody.js';
import { registerRequestIdHeader, requestIdFor } from './plugins/requestId.js';
import { registerIdempotencyKeyPolicy } from './plugins/idempotencyKeyPolicy.js';
import { registerShutdownGuard } from './plugins/shutdownGuard.js';
import { alertmanagerHookRoutes } from './routes/alertmanagerHook.js';
import { auditRoutes } from './routes/audit.js';
import { changeRequestRoutes } from './routes/changeRequests.js';
import { governanceChangeRoutes } from './routes/governanceChanges.js';
import { healthRoutes } from './routes/health.js';
import { jobRetryRoutes } from './routes/jobRetry.js';
import { jobRoutes } from './routes/jobs.js';
import { queueRoutes } from './routes/queues.js';
import { metricsRoutes } from './routes/metrics.js';
import { notificationRoutes } from './routes/notifications.js';
import { queueControlRoutes } from './routes/queueControl.js';
import { runbookStatusRoutes } from './routes/runbookStatus.js';
import { sessionRoutes } from './routes/session.js';
import { verificationRoutes } from './routes/verifications.js';
import { liveStateRoutes } from './routes/liveState.js';
import { sendOfrepPathError } from './ofrep/registerOfrepErrors.js';
import { OFREP_PREFIX, ofrepRoutes } from './routes/ofrep.js';
import { createLiveStreams, type LiveStreams } from './live/liveStreams.js';
import { findLiveSessionIds } from './sessions/sessionStore.js';
import { createLiveStateListener, readLiveState } from '@valhalla/core';

/** A route group: a Fastify plugin that receives the dependencies. Prefixes are decided by buildServer. */
export type RouteGroup = (scope: FastifyInstance, deps: ApiDependencies) => Promise<void>;

/** The route groups behind bearer auth, mounted under /api. */
export const API_ROUTE_GROUPS: readonly RouteGroup[] = [
  sessionRoutes,
  runbookStatusRoutes,
  governanceChangeRoutes,
  changeRequestRoutes,
  alertmanagerHookRoutes,
  jobRoutes,
  jobRetryRoutes,
  queueControlRoutes,
  auditRoutes,
  verificationRoutes,
  queueRoutes,
  notificationRoutes,
];

export type BuildServerOptions = {
  /** More route groups to mount under /api behind the same auth (e.g. the operability task's admin routes). */
  extraApiRoutes?: readonly RouteGroup[];
  /** Where the console's built files are (default apps/console/dist). */
  consoleDir?: string;
  /** The connection bounds (default DEFAULT_EDGE_BOUNDS); tests widen one to reach another. */
  edgeBounds?: EdgeBounds;
};

/** Longest a scrape waits on one source; Prometheus' own scrape timeout is 10 s by default. */
const SCRAPE_SOURCE_TIMEOUT_MS = 2_000;

declare module 'fastify' {
  interface FastifyInstance {
    /** This server's Prometheus metrics (a registry of its own). */
    metrics: ApiMetrics;
    /** This server's open state streams. */
    liveStreams: LiveStreams;
  }
}

/**
 * Builds the Fastify app from injected dependencies, without listening: tests call `inject()`, main.ts calls
 * `listen()`. Public: /health, /metrics, /openapi.json, /docs and the console's static files at /console/ (`/`
 * redirects there; every call the console makes is authenticated). Behind a token: /api/* and the queue dashboard at
 * /admin/queues (with its login at /admin/login). The app never closes the dependencies; its owner does, after
 * `app.close()`.
 */
export const buildServer = async (deps: ApiDependencies, options: BuildServerOptions = {}): Promise<FastifyInstance> => {
  // Bounds what a client can make the server hold: pipelined requests, unread answers, idle sockets (edge/).
  const guard = createConnectionGuard({
    socketIdleTimeoutMs: deps.config.socketIdleTimeoutMs,
    logger: deps.logger,
    ...(options.edgeBounds === undefined ? {} : { bounds: options.edgeBounds }),
  });
  const app = Fastify({
    serverFactory: guard.serverFactory,
    // The assertion fixes the instance's logger type parameter to FastifyBaseLogger, which the route plugins expect.
    // eslint-disable-next-line @typescript-eslint/no-unnecessary-type-assertion
    loggerInstance: deps.logger as FastifyBaseLogger,
    bodyLimit: BODY_LIMIT_BYTES,
    genReqId: requestIdFor,
    requestIdHeader: false,
    // Our shutdown guard answers 503 SHUTTING_DOWN in the contract's error shape instead.
    return503OnClosing: false,
    // Idle keep-alive sockets are closed when the server closes, so draining is not held up by idle clients.
    forceCloseConnections: 'idle',
    routerOptions: { maxParamLength: 500 },
    // The client address behind TRUST_PROXY proxies (X-Forwarded-For), so per-client limits see the client.
    // Hop n (0 = the peer) is trusted while n < TRUST_PROXY, as a numeric trustProxy does at runtime (typed here).
    trustProxy: deps.config.trustProxyHops > 0 ? (_address: string, hop: number) => hop < deps.config.trustProxyHops : false,
    // Slow clients: the whole request must arrive within REQUEST_TIMEOUT_MS, its headers within HEADERS_TIMEOUT_MS
    // (then 408, socket closed). Only receiving the request is bounded: a long-lived response (the state stream)
    // is not cut. Node checks the deadlines every connectionsCheckingInterval.
    requestTimeout: deps.config.requestTimeoutMs,
    http: {
      headersTimeout: deps.config.headersTimeoutMs,
      connectionsCheckingInterval: Math.min(1_000, deps.config.headersTimeoutMs),
    },
    clientErrorHandler: createClientErrorHandler(guard),
    // A malformed URL or an over-long path parameter is answered before routing; keep the contract's error shape.
    frameworkErrors: (error, request, reply) => {
      reply.header('X-Request-Id', request.id);
      const pathProblem = error.code === 'FST_ERR_MAX_PARAM_LENGTH' ? 'a path segment is too long' : 'malformed percent-encoding';
      // OFREP clients read OFREP's error shape only (the flag key cannot be decoded, so it is not echoed).
      if (request.url.startsWith(`${OFREP_PREFIX}/`)) {
        void sendOfrepPathError(reply, `the request path failed validation: ${pathProblem}`);
        return;
      }
      void sendError(reply, {
        code: 'VALIDATION_FAILED',
        message: 'the request path failed validation',
        details: [{ field: 'path', message: pathProblem }],
      });
    },
  });
  app.setValidatorCompiler(validatorCompiler);
  app.setSerializerCompiler(serializerCompiler);
  app.decorateRequest('principal', null);
  // sourcesRead runs at scrape time only, after stateGauges is assigned.
  const metrics = createApiMetrics({ release: deps.config.release, sourcesRead: () => stateGauges.settled() });
  app.decorate('metrics', metrics);
  const stateGauges = registerStateGauges(metrics.registry, {
    queues: deps.queues.byName,
    // BullMQ waits for a connection before its first command; while Redis is down, fail now rather than at the timeout.
    redisReady: () => deps.redis.status === 'ready',
    pool: deps.pool,
    migrationHead: async () => (await deps.migrations.chain()).head,
    timeoutMs: SCRAPE_SOURCE_TIMEOUT_MS,
    log: deps.logger,
    onSourceError: (source) => metrics.scrapeErrors.inc({ source }),
    notificationCircuitThreshold: deps.config.notifications.circuitThreshold,
  });

  registerShutdownGuard(app);
  registerIdempotencyKeyPolicy(app);
  registerConnectionGuard(app, guard);
  registerRequestIdHeader(app);
  registerErrorHandling(app);
  registerJsonBody(app);
  registerHttpMetrics(app, metrics);
  // Before every route: @fastify/swagger collects the routes as they are added.
  await registerOpenApi(app, { release: deps.config.release, serveDocs: deps.config.docsEnabled });

  if (deps.config.corsOrigins.length > 0) {
    // ETag: a browser client (an OFREP provider, a poller of /live) must read it to send If-None-Match.
    await app.register(cors, { origin: [...deps.config.corsOrigins], methods: ['GET', 'POST'], exposedHeaders: ['X-Request-Id', 'ETag', 'Idempotent-Replayed'] });
  }
  // One session cookie for /api, the stream, the console and the dashboard.
  await app.register(cookie);
  await app.register(rateLimit, {
    global: false,
    // After auth (onRequest), so the key is the token; before the body is validated.
    hook: 'preParsing',
    keyGenerator: (request) => request.principal?.tokenId ?? request.ip,
    errorResponseBuilder: (_request, context) =>
      new ApiError('RATE_LIMITED', `rate limit of ${context.max} requests per minute exceeded; retry in ${context.after}`),
  });

  await app.register(async (scope) => healthRoutes(scope, deps));
  await app.register(async (scope) => metricsRoutes(scope, deps, metrics));
  await app.register(async (scope) => consoleRoutes(scope, { dir: options.consoleDir }));
  const liveConfig = deps.config.live;
  const listener =
    deps.liveState ??
    createLiveStateListener({
      databaseUrl: deps.config.databaseUrl,
      fallbackRead: () => readLiveState(deps.pool),
      fallbackMaxAgeMs: liveConfig.fallbackMaxAgeMs,
      logger: deps.logger,
      applicationName: 'valhalla-api-live',
    });
  if (deps.liveState === undefined) app.addHook('onClose', async () => listener.close());
  const streams = createLiveStreams({
    listener,
    logger: deps.logger,
    heartbeatMs: liveConfig.heartbeatMs,
    streamsPerToken: liveConfig.streamsPerToken,
    // While the listener is down, fallback reads run every LIVE_FALLBACK_MAX_AGE_MS: twice that allows one slow read.
    heartbeatMaxStateAgeMs: 2 * liveConfig.fallbackMaxAgeMs,
    liveSessions: (ids) => findLiveSessionIds(deps.pool, ids),
  });
  // The sign-out routes (DELETE /api/session, POST /admin/logout) end the streams of the session they end.
  app.decorate('liveStreams', streams);
  // Before the server drains: open streams would otherwise hold it until the drain deadline. Clients reconnect to
  // another instance.
  app.addHook('preClose', async () => streams.close());

  // OFREP at its own paths, with its own credentials check and error shapes (OpenFeature providers read them).
  await app.register(
    async (scope) => ofrepRoutes(scope, { listener, maxStalenessMs: liveConfig.maxStalenessMs, tokens: deps.config.roleTokens }),
    { prefix: OFREP_PREFIX },
  );
  await app.register(async (scope) => adminRoutes(scope, deps), { prefix: ADMIN_PREFIX });

  await app.register(
    async (api) => {
      registerAuth(api, { tokens: deps.config.roleTokens, pool: deps.pool });
      await api.register(async (scope) =>
        liveStateRoutes(scope, { listener, streams, maxStalenessMs: liveConfig.maxStalenessMs }),
      );
      for (const group of [...API_ROUTE_GROUPS, ...(options.extraApiRoutes ?? [])]) {
        await api.register(async (scope) => group(scope, deps));
      }
    },
    { prefix: '/api' },
  );
  return app;
};
