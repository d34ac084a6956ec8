import { ConfigError, type ErrorDetail } from '../errors/index.js';
import { createAuditKeyring, DEVELOPMENT_AUDIT_KEY, parseAuditKeys } from '../state/audit/auditKeyring.js';
import { createNotificationKeyring, DEVELOPMENT_NOTIFICATION_KEY, parseNotificationKeys } from '../notifications/secretKeyring.js';
import { parseAllowedHosts } from '../notifications/targetPolicy.js';
import { apiVariables } from './env/api.js';
import { exitOnConfigError } from './env/exitOnConfigError.js';
import { LOCAL_DATABASE_URL, LOCAL_REDIS_URL, sharedVariables } from './env/shared.js';
import { parseVariables, type Values } from './env/variable.js';
import { workerVariables } from './env/worker.js';
import { parseGovernanceTokens, type GovernanceToken } from './parseGovernanceTokens.js';
import { parseRoleTokens } from './parseRoleTokens.js';
import { resolveQueuePrefix } from './queuePrefix.js';
import { hasRedisTopology, parseRedisTopology } from './redisTopology.js';

/** Which process is loading the config: each one requires a different subset of the variables. */
export type ServiceName = 'api' | 'worker' | 'migrate' | 'dev';

/** The sections every service parses: one Config for the api and the worker (env/sections.ts). */
const configVariables = { ...sharedVariables, ...apiVariables, ...workerVariables };
type ConfigValues = Values<typeof configVariables>;

const PRODUCTION_TOKEN_MIN_LENGTH = 24;
// 32 characters of a random base64 or hex string is at least 128 bits: `openssl rand -base64 33` gives 44.
const AUDIT_KEY_MIN_LENGTH = 32;

const splitList = (value: string | undefined): readonly string[] =>
  (value ?? '').split(',').map((item) => item.trim()).filter((item) => item.length > 0);

const deepFreeze = <T>(value: T): T => {
  if (value !== null && typeof value === 'object' && !Object.isFrozen(value)) {
    Object.freeze(value);
    for (const child of Object.values(value)) deepFreeze(child);
  }
  return value;
};

/** ADMIN_ACTORS must name operators (actors of GOVERNANCE_TOKENS), each once. */
const adminActorProblems = (adminActors: readonly string[], operators: readonly GovernanceToken[]): ErrorDetail[] => {
  const known = new Set(operators.map((token) => token.actor));
  const seen = new Set<string>();
  const problems: ErrorDetail[] = [];
  for (const actor of adminActors) {
    if (seen.has(actor)) problems.push({ field: 'ADMIN_ACTORS', message: `actor ${actor} is listed twice` });
    else if (!known.has(actor)) problems.push({ field: 'ADMIN_ACTORS', message: `actor ${actor} is not an operator (no GOVERNANCE_TOKENS entry)` });
    seen.add(actor);
  }
  return problems;
};

/** The credentials of every role; the operators' problems are the api's to report (the others need no tokens). */
const resolveTokens = (e: ConfigValues, service: ServiceName, isProduction: boolean, problems: ErrorDetail[]) => {
  const minTokenLength = isProduction ? PRODUCTION_TOKEN_MIN_LENGTH : 1;
  const { tokens, problems: tokenProblems } = parseGovernanceTokens(e.GOVERNANCE_TOKENS ?? '', { minTokenLength });
  const roles = parseRoleTokens(
    { operator: e.GOVERNANCE_TOKENS, reader: e.READER_TOKENS, app: e.APP_TOKENS, alerts: e.ALERT_TOKENS },
    { minTokenLength },
  );
  const adminActors = splitList(e.ADMIN_ACTORS);
  if (service === 'api') {
    for (const message of tokenProblems) problems.push({ field: 'GOVERNANCE_TOKENS', message });
    // GOVERNANCE_TOKENS' own problems are reported above; the other roles' and the cross-role ones here.
    problems.push(
      ...roles.problems
        .filter((problem) => problem.field !== 'GOVERNANCE_TOKENS' || problem.crossRole)
        .map(({ field, message }) => ({ field, message })),
    );
    if (isProduction && tokens.length === 0 && tokenProblems.length === 0) {
      problems.push({ field: 'GOVERNANCE_TOKENS', message: 'at least one actor:token pair is required when NODE_ENV=production' });
    }
    problems.push(...adminActorProblems(adminActors, tokens));
  }
  const governanceTokens: readonly GovernanceToken[] = tokens;
  return { governanceTokens, roleTokens: roles.tokens, adminActors };
};

/** AUDIT_HMAC_KEYS: required in production, where the public development key is refused. */
const resolveAuditKeyring = (e: ConfigValues, service: ServiceName, isProduction: boolean, problems: ErrorDetail[]) => {
  const audit = parseAuditKeys(e.AUDIT_HMAC_KEYS ?? '', { minKeyLength: AUDIT_KEY_MIN_LENGTH });
  for (const message of audit.problems) problems.push({ field: 'AUDIT_HMAC_KEYS', message });
  if (isProduction && e.AUDIT_HMAC_KEYS === undefined && service !== 'dev') {
    problems.push({ field: 'AUDIT_HMAC_KEYS', message: 'is required when NODE_ENV=production (keyid:key, comma-separated)' });
  }
  // The development key is in this repository: in production it would let anyone forge entries and checkpoints.
  if (isProduction && service !== 'dev' && audit.keys.some((key) => key.key === DEVELOPMENT_AUDIT_KEY.key)) {
    problems.push({ field: 'AUDIT_HMAC_KEYS', message: 'holds the public development key; generate a secret one (openssl rand -base64 33)' });
  }
  return createAuditKeyring(audit.keys.length > 0 ? audit.keys : [DEVELOPMENT_AUDIT_KEY]);
};

/** The api's HTTP timeouts; the computed defaults are the ones the reference states (env/api.ts). */
const resolveHttpTimeouts = (e: ConfigValues, problems: ErrorDetail[]) => {
  const requestTimeoutMs = e.REQUEST_TIMEOUT_MS;
  const headersTimeoutMs = e.HEADERS_TIMEOUT_MS ?? Math.min(10_000, requestTimeoutMs);
  if (headersTimeoutMs > requestTimeoutMs) {
    problems.push({ field: 'HEADERS_TIMEOUT_MS', message: `must not exceed REQUEST_TIMEOUT_MS (${requestTimeoutMs})` });
  }
  const socketIdleTimeoutMs = e.SOCKET_IDLE_TIMEOUT_MS ?? Math.max(30_000, 2 * e.LIVE_HEARTBEAT_MS);
  // An open stream writes only its heartbeat: a shorter idle timeout would cut every quiet stream.
  if (socketIdleTimeoutMs <= e.LIVE_HEARTBEAT_MS) {
    problems.push({ field: 'SOCKET_IDLE_TIMEOUT_MS', message: `must be longer than LIVE_HEARTBEAT_MS (${e.LIVE_HEARTBEAT_MS}), or open streams are cut between heartbeats` });
  }
  return { requestTimeoutMs, headersTimeoutMs, socketIdleTimeoutMs };
};

/** NOTIFICATION_* (docs/notifications.md): the keyring, the SSRF allow-list and the delivery worker's schedule. */
const resolveNotifications = (e: ConfigValues, service: ServiceName, isProduction: boolean, problems: ErrorDetail[]) => {
  const notificationKeys = parseNotificationKeys(e.NOTIFICATION_SECRET_KEYS ?? '');
  for (const message of notificationKeys.problems) problems.push({ field: 'NOTIFICATION_SECRET_KEYS', message });
  // The development key is in this repository: a database reader could open every secret sealed with it.
  if (isProduction && service !== 'dev' && notificationKeys.keys.some((key) => key.key.equals(DEVELOPMENT_NOTIFICATION_KEY.key))) {
    problems.push({ field: 'NOTIFICATION_SECRET_KEYS', message: 'holds the public development key; generate a secret one (openssl rand -base64 32)' });
  }
  const allowed = parseAllowedHosts(e.NOTIFICATION_ALLOWED_HOSTS ?? '');
  for (const message of allowed.problems) problems.push({ field: 'NOTIFICATION_ALLOWED_HOSTS', message });
  if (e.NOTIFICATION_RETRY_MAX_MS < e.NOTIFICATION_RETRY_BASE_MS) {
    problems.push({ field: 'NOTIFICATION_RETRY_MAX_MS', message: 'must not be below NOTIFICATION_RETRY_BASE_MS' });
  }
  return {
    /**
     * The first key seals new targets and signing secrets, every one opens. Production without keys: undefined, and
     * creating a subscription answers NOTIFICATIONS_NOT_CONFIGURED.
     */
    secretKeys:
      notificationKeys.keys.length > 0
        ? createNotificationKeyring(notificationKeys.keys)
        : isProduction && service !== 'dev'
          ? undefined
          : createNotificationKeyring([DEVELOPMENT_NOTIFICATION_KEY]),
    /** Hosts (and ports) that may be private, loopback or link-local addresses. */
    allowedHosts: allowed.hosts,
    timeoutMs: e.NOTIFICATION_TIMEOUT_MS,
    /** Exponential backoff after a failed attempt, with jitter, capped. */
    retryBaseMs: e.NOTIFICATION_RETRY_BASE_MS,
    retryMaxMs: e.NOTIFICATION_RETRY_MAX_MS,
    circuitThreshold: e.NOTIFICATION_CIRCUIT_THRESHOLD,
    deadLetterAfterSeconds: e.NOTIFICATION_DEAD_LETTER_AFTER_SECONDS,
    concurrency: e.NOTIFICATION_CONCURRENCY,
    pollMs: e.NOTIFICATION_POLL_MS,
    retentionDays: e.NOTIFICATION_RETENTION_DAYS,
    consoleUrl: e.NOTIFICATION_CONSOLE_URL,
  };
};

/**
 * What the variables of env/ mean together: production requirements, the settings that must agree, the keyrings and
 * the Redis topology. Each value's own type, range and default come from its one definition.
 */
const resolveConfig = (env: Readonly<Record<string, string | undefined>>, service: ServiceName) => {
  const e = parseVariables(env, configVariables);
  const isProduction = e.NODE_ENV === 'production';
  const problems: ErrorDetail[] = [];

  if (isProduction && e.DATABASE_URL === undefined) {
    problems.push({ field: 'DATABASE_URL', message: 'is required when NODE_ENV=production' });
  }
  const redisVariables = {
    REDIS_URL: e.REDIS_URL,
    REDIS_CLUSTER_NODES: e.REDIS_CLUSTER_NODES,
    REDIS_SENTINELS: e.REDIS_SENTINELS,
    REDIS_SENTINEL_MASTER: e.REDIS_SENTINEL_MASTER,
    REDIS_PASSWORD: e.REDIS_PASSWORD,
    REDIS_SENTINEL_PASSWORD: e.REDIS_SENTINEL_PASSWORD,
  };
  if (isProduction && !hasRedisTopology(redisVariables) && service !== 'migrate') {
    problems.push({ field: 'REDIS_URL', message: 'is required when NODE_ENV=production (or REDIS_CLUSTER_NODES, or REDIS_SENTINELS)' });
  }
  const queuePrefix = resolveQueuePrefix({ QUEUE_PREFIX: e.QUEUE_PREFIX, BULLMQ_PREFIX: e.BULLMQ_PREFIX });
  problems.push(...queuePrefix.problems);
  const redis = parseRedisTopology(redisVariables, { queuePrefix: queuePrefix.prefix, defaultUrl: LOCAL_REDIS_URL });
  problems.push(...redis.problems);

  const tokens = resolveTokens(e, service, isProduction, problems);
  const auditKeyring = resolveAuditKeyring(e, service, isProduction, problems);
  const httpTimeouts = resolveHttpTimeouts(e, problems);
  if (e.METRICS_TOKEN !== undefined && isProduction && e.METRICS_TOKEN.length < PRODUCTION_TOKEN_MIN_LENGTH) {
    problems.push({ field: 'METRICS_TOKEN', message: `must be at least ${PRODUCTION_TOKEN_MIN_LENGTH} characters in production` });
  }
  if (e.METRICS_TOKEN !== undefined && /\s/.test(e.METRICS_TOKEN)) {
    problems.push({ field: 'METRICS_TOKEN', message: 'must not contain white space' });
  }
  if (e.TRANSIENT_RETRY_MAX_MS < e.TRANSIENT_RETRY_BASE_MS) {
    problems.push({ field: 'TRANSIENT_RETRY_MAX_MS', message: 'must not be below TRANSIENT_RETRY_BASE_MS' });
  }
  if (service === 'worker' && e.WORKER_FAULT !== undefined && isProduction) {
    problems.push({ field: 'WORKER_FAULT', message: 'is a test-only setting and is refused when NODE_ENV=production' });
  }
  const notifications = resolveNotifications(e, service, isProduction, problems);
  if (problems.length > 0) throw new ConfigError(problems);

  return {
    service,
    nodeEnv: e.NODE_ENV,
    isProduction,
    databaseUrl: e.DATABASE_URL ?? LOCAL_DATABASE_URL,
    /** BullMQ's Redis: REDIS_URL, REDIS_CLUSTER_NODES or REDIS_SENTINELS (+ REDIS_SENTINEL_MASTER). */
    redis: redis.topology,
    port: e.PORT,
    host: e.HOST,
    /** The operator credentials (GOVERNANCE_TOKENS). */
    governanceTokens: tokens.governanceTokens,
    /** Every credential of every role (operators included), each token in exactly one role. */
    roleTokens: tokens.roleTokens,
    /** AUDIT_HMAC_KEYS: the first key signs new audit entries, every key verifies. A public dev key outside production. */
    auditKeyring,
    adminActors: tokens.adminActors,
    approvalsRequired: e.APPROVALS_REQUIRED,
    approvalTtlMinutes: e.APPROVAL_TTL_MINUTES,
    workerConcurrency: e.WORKER_CONCURRENCY,
    apiUrl: e.API_URL,
    release: e.RELEASE ?? e.RENDER_GIT_COMMIT ?? 'local',
    logLevel: e.LOG_LEVEL,
    metricsPort: e.METRICS_PORT,
    databasePoolSize: e.DATABASE_POOL_SIZE,
    shutdownTimeoutMs: e.SHUTDOWN_TIMEOUT_MS,
    heartbeatIntervalMs: e.HEARTBEAT_INTERVAL_MS,
    rateLimitPerMinute: e.RATE_LIMIT_PER_MINUTE,
    corsOrigins: splitList(e.CORS_ORIGINS),
    trustProxyHops: e.TRUST_PROXY,
    ...httpTimeouts,
    metricsToken: e.METRICS_TOKEN,
    /** Whether GET /metrics answers at all: always with METRICS_TOKEN; without it only outside production (it is public then). */
    metricsEnabled: e.METRICS_TOKEN !== undefined || !isProduction,
    docsEnabled: e.DOCS_ENABLED !== 'false',
    /** QUEUE_PREFIX (or its deprecated name BULLMQ_PREFIX): every queue's keys, `bull` by default. */
    queuePrefix: queuePrefix.prefix,
    /** Deprecated settings in use, for the entrypoint to log once. */
    deprecations: queuePrefix.deprecations,
    live: {
      streamsPerToken: e.LIVE_STREAMS_PER_TOKEN,
      heartbeatMs: e.LIVE_HEARTBEAT_MS,
      fallbackMaxAgeMs: e.LIVE_FALLBACK_MAX_AGE_MS,
      maxStalenessMs: e.LIVE_MAX_STALENESS_MS,
    },
    changeMaxAgeSeconds: e.CHANGE_MAX_AGE_SECONDS,
    /** The worker's backoff through transient failures; tests shorten it to make a long outage short. */
    transientRetry: { baseDelayMs: e.TRANSIENT_RETRY_BASE_MS, maxDelayMs: e.TRANSIENT_RETRY_MAX_MS },
    notifications,
    /** MIGRATIONS_DIR: undefined means the repository's migrations/. */
    migrationsDir: e.MIGRATIONS_DIR,
    /** BullMQ lock and stall detection, and the reconciler's schedule. */
    workerTuning: {
      lockDurationMs: e.WORKER_LOCK_DURATION_MS,
      stalledIntervalMs: e.WORKER_STALLED_INTERVAL_MS,
      maxStalledCount: e.WORKER_MAX_STALLED_COUNT,
      reconcileIntervalMs: e.RECONCILE_INTERVAL_MS,
      reconcileGraceMs: e.RECONCILE_GRACE_MS,
    },
    /** WORKER_FAULT: TEST-ONLY fault injection, refused in production. */
    workerFault: e.WORKER_FAULT,
    verifyIntervalSeconds: e.VERIFY_INTERVAL_SECONDS,
    driftAction: e.DRIFT_ACTION,
    verifyApiToken: e.VERIFY_API_TOKEN,
  };
};

/** The parsed configuration of the api and the worker; its type follows from the definitions in env/. */
export type Config = Readonly<ReturnType<typeof resolveConfig>>;
/** NOTIFICATION_* settings, parsed once. */
export type NotificationSettings = Config['notifications'];

/**
 * Parses the environment once, at an entrypoint. Returns a deep-frozen config.
 * @throws ConfigError naming every invalid or missing variable.
 */
export const loadConfig = (env: Readonly<Record<string, string | undefined>>, service: ServiceName): Config =>
  deepFreeze(resolveConfig(env, service));

/**
 * Entrypoint helper: loads the config or prints the problem (naming the variable) and exits with status 78
 * (EX_CONFIG). Only entrypoints call this; everything below them takes the Config as an argument.
 */
export const loadConfigOrExit = (env: Readonly<Record<string, string | undefined>>, service: ServiceName): Config =>
  exitOnConfigError(service, () => loadConfig(env, service));
