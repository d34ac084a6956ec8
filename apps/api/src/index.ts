export { buildServer, API_ROUTE_GROUPS, type BuildServerOptions, type RouteGroup } from './server.js';
export type { ApiDependencies, MigrationStatusSource, ProducerRedis } from './dependencies.js';
export { ApiError, errorBody, parseFailedReason, statusOf, type ApiErrorBody, type ApiErrorDetail } from './errors.js';
export { createTokenVerifier, requirePrincipal, type Principal } from './auth.js';
export { callDatabase, callRedis, withTimeout, DependencyTimeoutError } from './dependencyCalls.js';
export { sendError } from './plugins/errorHandling.js';
export { BODY_LIMIT_BYTES } from './plugins/jsonBody.js';
export { createApiShutdown, type ApiShutdownSteps } from './shutdown.js';
