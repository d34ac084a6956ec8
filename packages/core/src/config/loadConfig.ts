import { z } from 'zod';
import { DEFAULT_CHANGE_MAX_AGE_SECONDS, DEFAULT_TRANSIENT_RETRY, type TransientRetrySchedule } from '@valhalla/contract';
import { ConfigError, type ErrorDetail } from '../errors/index.js';
import { createAuditKeyring, DEVELOPMENT_AUDIT_KEY, parseAuditKeys, type AuditKeyring } from '../state/audit/auditKeyring.js';
import {
  createNotificationKeyring,
  DEVELOPMENT_NOTIFICATION_KEY,
  parseNotificationKeys,
  type NotificationKeyring,
} from '../notifications/secretKeyring.js';
import { parseAllowedHosts, type AllowedHost } from '../notifications/targetPolicy.js';
import { parseGovernanceTokens, type GovernanceToken } from './parseGovernanceTokens.js';
import { parseRoleTokens } from './parseRoleTokens.js';
import { resolveQueuePrefix } from './queuePrefix.js';
import { hasRedisTopology, parseRedisTopology, type RedisTopology } from './redisTopology.js';
import type { RoleToken } from './roles.js';

/** Which process is loading the config: each one requires a different subset of the variables. */
export type ServiceName = 'api' | 'worker' | 'migrate' | 'dev';

const LOG_LEVELS = ['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent'] as const;
const PRODUCTION_TOKEN_MIN_LENGTH = 24;
// 32 characters of a random base64 or hex string is at least 128 bits: `openssl rand -base64 33` gives 44.
const AUDIT_KEY_MIN_LENGTH = 32;

const emptyToUndefined = (value: unknown) => (typeof value === 'string' && value.trim() === '' ? undefined : value);
const optionalString = z.preprocess(emptyToUndefined, z.string().optional());
const intInRange = (min: number, max: number) =>
  z.preprocess(emptyToUndefined, z.coerce.number().int().min(min).max(max).optional());

const envSchema = z.object({
  NODE_ENV: z.preprocess(emptyToUndefined, z.enum(['development', 'test', 'production']).default('development')),
  DATABASE_URL: z.preprocess(
    emptyToUndefined,
    z
      .string()
      .regex(/^postgres(ql)?:\/\/.+/, 'must be a postgres:// or postgresql:// URL')
      .superRefine((value, ctx) => {
        // A libpq multi-host string (host1:5432,host2:5432) parses as one host node-postgres cannot resolve, or not at
        // all: the product would retry a host that never exists instead of saying so.
        const authority = /^[^:]+:\/\/([^/?#]*)/.exec(value)?.[1] ?? '';
        if (authority.slice(authority.lastIndexOf('@') + 1).includes(',')) {
          ctx.addIssue({
            code: 'custom',
            message: 'names several hosts (a libpq multi-host string); node-postgres connects to one address: give one that always reaches the primary (a DNS name, pgbouncer), see docs/scaling.md',
          });
        } else if (!URL.canParse(value)) ctx.addIssue({ code: 'custom', message: 'is not a valid URL' });
      })
      .optional(),
  ),
  REDIS_URL: z.preprocess(emptyToUndefined, z.string().regex(/^rediss?:\/\/.+/, 'must be a redis:// or rediss:// URL').optional()),
  // Redis Cluster or Sentinel instead of REDIS_URL (redisTopology.ts checks the lists and what goes together).
  REDIS_CLUSTER_NODES: optionalString,
  REDIS_SENTINELS: optionalString,
  REDIS_SENTINEL_MASTER: optionalString,
  REDIS_PASSWORD: optionalString,
  REDIS_SENTINEL_PASSWORD: optionalString,
  PORT: intInRange(0, 65535),
  HOST: optionalString,
  GOVERNANCE_TOKENS: optionalString,
  READER_TOKENS: optionalString,
  APP_TOKENS: optionalString,
  ALERT_TOKENS: optionalString,
  AUDIT_HMAC_KEYS: optionalString,
  ADMIN_ACTORS: optionalString,
  APPROVALS_REQUIRED: intInRange(1, 10),
  APPROVAL_TTL_MINUTES: intInRange(1, 10_080),
  WORKER_CONCURRENCY: intInRange(1, 1000),
  // A URL, or Render's `fromService` `hostport` (host:port on the private network, plain HTTP).
  API_URL: z.preprocess(
    emptyToUndefined,
    z
      .string()
      .transform((value, ctx) => {
        const url = /^[A-Za-z0-9](?:[A-Za-z0-9.-]*[A-Za-z0-9])?:[0-9]{1,5}$/.test(value) ? `http://${value}` : value;
        if (!/^https?:\/\/\S+$/.test(url) || !URL.canParse(url)) {
          ctx.addIssue({ code: 'custom', message: 'must be an http(s) URL or host:port' });
          return z.NEVER;
        }
        return url;
      })
      .optional(),
  ),
  RELEASE: optionalString,
  RENDER_GIT_COMMIT: optionalString,
  LOG_LEVEL: z.preprocess(emptyToUndefined, z.enum(LOG_LEVELS).default('info')),
  METRICS_PORT: intInRange(0, 65535),
  DATABASE_POOL_SIZE: intInRange(1, 200),
  SHUTDOWN_TIMEOUT_MS: intInRange(1000, 290_000),
  HEARTBEAT_INTERVAL_MS: intInRange(100, 600_000),
  RATE_LIMIT_PER_MINUTE: intInRange(1, 1_000_000),
  CORS_ORIGINS: optionalString,
  TRUST_PROXY: intInRange(0, 10),
  REQUEST_TIMEOUT_MS: intInRange(1000, 600_000),
  HEADERS_TIMEOUT_MS: intInRange(1000, 600_000),
  SOCKET_IDLE_TIMEOUT_MS: intInRange(1000, 3_600_000),
  METRICS_TOKEN: optionalString,
  DOCS_ENABLED: z.preprocess(emptyToUndefined, z.enum(['true', 'false'], { error: 'must be true or false' }).optional()),
  // The queue key prefix (queuePrefix.ts); BULLMQ_PREFIX is its deprecated name.
  QUEUE_PREFIX: optionalString,
  BULLMQ_PREFIX: optionalString,
  LIVE_STREAMS_PER_TOKEN: intInRange(1, 1_000_000),
  LIVE_HEARTBEAT_MS: intInRange(10, 600_000),
  LIVE_FALLBACK_MAX_AGE_MS: intInRange(10, 600_000),
  LIVE_MAX_STALENESS_MS: intInRange(10, 3_600_000),
  CHANGE_MAX_AGE_SECONDS: intInRange(1, 30 * 24 * 3600),
  TRANSIENT_RETRY_BASE_MS: intInRange(10, 600_000),
  TRANSIENT_RETRY_MAX_MS: intInRange(10, 3_600_000),
  NOTIFICATION_SECRET_KEYS: optionalString,
  NOTIFICATION_ALLOWED_HOSTS: optionalString,
  NOTIFICATION_TIMEOUT_MS: intInRange(100, 60_000),
  NOTIFICATION_RETRY_BASE_MS: intInRange(10, 600_000),
  NOTIFICATION_RETRY_MAX_MS: intInRange(10, 86_400_000),
  NOTIFICATION_CIRCUIT_THRESHOLD: intInRange(1, 1000),
  NOTIFICATION_DEAD_LETTER_AFTER_SECONDS: intInRange(1, 90 * 24 * 3600),
  NOTIFICATION_CONCURRENCY: intInRange(1, 256),
  NOTIFICATION_POLL_MS: intInRange(50, 600_000),
  NOTIFICATION_RETENTION_DAYS: intInRange(1, 3650),
  NOTIFICATION_CONSOLE_URL: z.preprocess(
    emptyToUndefined,
    z.string().refine((value) => /^https?:\/\/\S+$/.test(value) && URL.canParse(value), 'must be an http(s) URL (where people open the console)').optional(),
  ),
});

export type Config = {
  readonly service: ServiceName;
  readonly nodeEnv: 'development' | 'test' | 'production';
  readonly isProduction: boolean;
  readonly databaseUrl: string;
  /** BullMQ's Redis: REDIS_URL, REDIS_CLUSTER_NODES or REDIS_SENTINELS (+ REDIS_SENTINEL_MASTER). */
  readonly redis: RedisTopology;
  readonly port: number;
  readonly host: string;
  /** The operator credentials (GOVERNANCE_TOKENS). */
  readonly governanceTokens: readonly GovernanceToken[];
  /** Every credential of every role (operators included), each token in exactly one role. */
  readonly roleTokens: readonly RoleToken[];
  /** Operators who may act in the queue dashboard. */
  /** AUDIT_HMAC_KEYS: the first key signs new audit entries, every key verifies. A public dev key outside production. */
  readonly auditKeyring: AuditKeyring;
  readonly adminActors: readonly string[];
  /** Distinct operators who must agree before go_live.enable or kill_switch.release runs (1 = the requester alone). */
  readonly approvalsRequired: number;
  readonly approvalTtlMinutes: number;
  readonly workerConcurrency: number;
  readonly apiUrl: string | undefined;
  readonly release: string;
  readonly logLevel: (typeof LOG_LEVELS)[number];
  readonly metricsPort: number | undefined;
  readonly databasePoolSize: number;
  readonly shutdownTimeoutMs: number;
  readonly heartbeatIntervalMs: number;
  readonly rateLimitPerMinute: number;
  readonly corsOrigins: readonly string[];
  /** TRUST_PROXY: how many proxies in front of the api to trust for the client address (X-Forwarded-For); 0 = none. */
  readonly trustProxyHops: number;
  /** REQUEST_TIMEOUT_MS: the whole request (headers and body) must arrive within this; then 408 and the socket closes. */
  readonly requestTimeoutMs: number;
  /** HEADERS_TIMEOUT_MS: the request headers must arrive within this. */
  readonly headersTimeoutMs: number;
  /**
   * SOCKET_IDLE_TIMEOUT_MS: a connection on which nothing is read or written for this long, while none of its requests
   * is being handled, is closed (a client that stopped reading its answers, a stalled peer). Longer than the stream
   * heartbeat, so an open stream is never cut.
   */
  readonly socketIdleTimeoutMs: number;
  /** METRICS_TOKEN: when set, GET /metrics needs `Authorization: Bearer <it>`. */
  readonly metricsToken: string | undefined;
  /** Whether GET /metrics answers at all: always with METRICS_TOKEN; without it only outside production. */
  readonly metricsEnabled: boolean;
  /** DOCS_ENABLED: serve /docs and /openapi.json (default true). */
  readonly docsEnabled: boolean;
  /** QUEUE_PREFIX (or its deprecated name BULLMQ_PREFIX): every queue's keys, `bull` by default. */
  readonly queuePrefix: string;
  /** Deprecated settings in use, for the entrypoint to log once. */
  readonly deprecations: readonly string[];
  /** Live state (GET /api/governance/live and /stream). */
  readonly live: {
    readonly streamsPerToken: number;
    readonly heartbeatMs: number;
    readonly fallbackMaxAgeMs: number;
    readonly maxStalenessMs: number;
  };
  /** A change (other than an engage or a disable) not applied this long after its creation is rejected as EXPIRED. */
  readonly changeMaxAgeSeconds: number;
  /** The worker's backoff through transient failures; tests shorten it to make a long outage short. */
  readonly transientRetry: TransientRetrySchedule;
  /** Notifications (docs/notifications.md): subscriptions, the delivery worker's schedule and the SSRF allow-list. */
  readonly notifications: NotificationSettings;
};

/** NOTIFICATION_* settings, parsed once. */
export type NotificationSettings = {
  /**
   * NOTIFICATION_SECRET_KEYS: the first seals new targets and signing secrets, every one opens. A public development
   * key outside production when unset; undefined in production when unset (subscriptions cannot be created).
   */
  readonly secretKeys: NotificationKeyring | undefined;
  /** NOTIFICATION_ALLOWED_HOSTS: hosts (and ports) that may be private, loopback or link-local addresses. */
  readonly allowedHosts: readonly AllowedHost[];
  /** NOTIFICATION_TIMEOUT_MS: the whole attempt (connect, request, response) must end within this. */
  readonly timeoutMs: number;
  /** NOTIFICATION_RETRY_BASE_MS / _MAX_MS: exponential backoff after a failed attempt, with jitter, capped. */
  readonly retryBaseMs: number;
  readonly retryMaxMs: number;
  /** NOTIFICATION_CIRCUIT_THRESHOLD: consecutive failures that open a subscription's circuit (probes at the cap). */
  readonly circuitThreshold: number;
  /** NOTIFICATION_DEAD_LETTER_AFTER_SECONDS: a subscription failing this long is dead-lettered until resumed. */
  readonly deadLetterAfterSeconds: number;
  /** NOTIFICATION_CONCURRENCY: subscriptions one worker delivers to at once (each one delivery at a time). */
  readonly concurrency: number;
  /** NOTIFICATION_POLL_MS: how often the worker looks for due deliveries besides LISTEN/NOTIFY. */
  readonly pollMs: number;
  /** NOTIFICATION_RETENTION_DAYS: delivered deliveries are kept this long (the delivery history), then purged. */
  readonly retentionDays: number;
  /** NOTIFICATION_CONSOLE_URL: where the console is, for the link in Slack messages (no link when unset). */
  readonly consoleUrl: string | undefined;
};

const LOCAL_DATABASE_URL = 'postgresql://postgres@127.0.0.1:5432/postgres';
const LOCAL_REDIS_URL = 'redis://127.0.0.1:6379';

const splitList = (value: string | undefined): string[] =>
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

/**
 * Parses the environment once, at an entrypoint. Returns a deep-frozen config.
 * @throws ConfigError naming every invalid or missing variable.
 */
export const loadConfig = (env: Readonly<Record<string, string | undefined>>, service: ServiceName): Config => {
  const parsed = envSchema.safeParse(env);
  if (!parsed.success) {
    throw new ConfigError(
      parsed.error.issues.map((issue) => ({ field: String(issue.path[0] ?? '(environment)'), message: issue.message })),
    );
  }
  const e = parsed.data;
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

  const audit = parseAuditKeys(e.AUDIT_HMAC_KEYS ?? '', { minKeyLength: AUDIT_KEY_MIN_LENGTH });
  for (const message of audit.problems) problems.push({ field: 'AUDIT_HMAC_KEYS', message });
  if (isProduction && e.AUDIT_HMAC_KEYS === undefined && service !== 'dev') {
    problems.push({ field: 'AUDIT_HMAC_KEYS', message: 'is required when NODE_ENV=production (keyid:key, comma-separated)' });
  }
  // The development key is in this repository: in production it would let anyone forge entries and checkpoints.
  if (isProduction && service !== 'dev' && audit.keys.some((key) => key.key === DEVELOPMENT_AUDIT_KEY.key)) {
    problems.push({ field: 'AUDIT_HMAC_KEYS', message: 'holds the public development key; generate a secret one (openssl rand -base64 33)' });
  }

  const requestTimeoutMs = e.REQUEST_TIMEOUT_MS ?? 30_000;
  const headersTimeoutMs = e.HEADERS_TIMEOUT_MS ?? Math.min(10_000, requestTimeoutMs);
  if (headersTimeoutMs > requestTimeoutMs) {
    problems.push({ field: 'HEADERS_TIMEOUT_MS', message: `must not exceed REQUEST_TIMEOUT_MS (${requestTimeoutMs})` });
  }
  const liveHeartbeatMs = e.LIVE_HEARTBEAT_MS ?? 15_000;
  const socketIdleTimeoutMs = e.SOCKET_IDLE_TIMEOUT_MS ?? Math.max(30_000, 2 * liveHeartbeatMs);
  // An open stream writes only its heartbeat: a shorter idle timeout would cut every quiet stream.
  if (socketIdleTimeoutMs <= liveHeartbeatMs) {
    problems.push({ field: 'SOCKET_IDLE_TIMEOUT_MS', message: `must be longer than LIVE_HEARTBEAT_MS (${liveHeartbeatMs}), or open streams are cut between heartbeats` });
  }
  if (e.METRICS_TOKEN !== undefined && isProduction && e.METRICS_TOKEN.length < PRODUCTION_TOKEN_MIN_LENGTH) {
    problems.push({ field: 'METRICS_TOKEN', message: `must be at least ${PRODUCTION_TOKEN_MIN_LENGTH} characters in production` });
  }
  if (e.METRICS_TOKEN !== undefined && /\s/.test(e.METRICS_TOKEN)) {
    problems.push({ field: 'METRICS_TOKEN', message: 'must not contain white space' });
  }

  const transientRetry = {
    baseDelayMs: e.TRANSIENT_RETRY_BASE_MS ?? DEFAULT_TRANSIENT_RETRY.baseDelayMs,
    maxDelayMs: e.TRANSIENT_RETRY_MAX_MS ?? DEFAULT_TRANSIENT_RETRY.maxDelayMs,
  };
  if (transientRetry.maxDelayMs < transientRetry.baseDelayMs) {
    problems.push({ field: 'TRANSIENT_RETRY_MAX_MS', message: 'must not be below TRANSIENT_RETRY_BASE_MS' });
  }
  const notificationKeys = parseNotificationKeys(e.NOTIFICATION_SECRET_KEYS ?? '');
  for (const message of notificationKeys.problems) problems.push({ field: 'NOTIFICATION_SECRET_KEYS', message });
  // The development key is in this repository: a database reader could open every secret sealed with it.
  if (isProduction && service !== 'dev' && notificationKeys.keys.some((key) => key.key.equals(DEVELOPMENT_NOTIFICATION_KEY.key))) {
    problems.push({ field: 'NOTIFICATION_SECRET_KEYS', message: 'holds the public development key; generate a secret one (openssl rand -base64 32)' });
  }
  const allowed = parseAllowedHosts(e.NOTIFICATION_ALLOWED_HOSTS ?? '');
  for (const message of allowed.problems) problems.push({ field: 'NOTIFICATION_ALLOWED_HOSTS', message });
  const retryBaseMs = e.NOTIFICATION_RETRY_BASE_MS ?? 1_000;
  const retryMaxMs = e.NOTIFICATION_RETRY_MAX_MS ?? 600_000;
  if (retryMaxMs < retryBaseMs) problems.push({ field: 'NOTIFICATION_RETRY_MAX_MS', message: 'must not be below NOTIFICATION_RETRY_BASE_MS' });
  if (problems.length > 0) throw new ConfigError(problems);
  const notifications: NotificationSettings = {
    // Production without keys: the product runs, and creating a subscription answers NOTIFICATIONS_NOT_CONFIGURED.
    secretKeys:
      notificationKeys.keys.length > 0
        ? createNotificationKeyring(notificationKeys.keys)
        : isProduction && service !== 'dev'
          ? undefined
          : createNotificationKeyring([DEVELOPMENT_NOTIFICATION_KEY]),
    allowedHosts: allowed.hosts,
    timeoutMs: e.NOTIFICATION_TIMEOUT_MS ?? 10_000,
    retryBaseMs,
    retryMaxMs,
    circuitThreshold: e.NOTIFICATION_CIRCUIT_THRESHOLD ?? 5,
    deadLetterAfterSeconds: e.NOTIFICATION_DEAD_LETTER_AFTER_SECONDS ?? 3 * 24 * 3600,
    concurrency: e.NOTIFICATION_CONCURRENCY ?? 8,
    pollMs: e.NOTIFICATION_POLL_MS ?? 5_000,
    retentionDays: e.NOTIFICATION_RETENTION_DAYS ?? 7,
    consoleUrl: e.NOTIFICATION_CONSOLE_URL,
  };

  return deepFreeze({
    service,
    nodeEnv: e.NODE_ENV,
    isProduction,
    databaseUrl: e.DATABASE_URL ?? LOCAL_DATABASE_URL,
    redis: redis.topology,
    port: e.PORT ?? 3000,
    host: e.HOST ?? '0.0.0.0',
    governanceTokens: tokens,
    roleTokens: roles.tokens,
    auditKeyring: createAuditKeyring(audit.keys.length > 0 ? audit.keys : [DEVELOPMENT_AUDIT_KEY]),
    adminActors,
    approvalsRequired: e.APPROVALS_REQUIRED ?? 1,
    approvalTtlMinutes: e.APPROVAL_TTL_MINUTES ?? 60,
    // Every governance change serialises on row 1's lock: jobs beyond a few in flight only wait in PostgreSQL's FIFO lock
    // queue, where BullMQ priorities (kill switch first) no longer apply. Small by default; raise it for slow verifications.
    workerConcurrency: e.WORKER_CONCURRENCY ?? 64,
    apiUrl: e.API_URL?.replace(/\/+$/, ''),
    release: e.RELEASE ?? e.RENDER_GIT_COMMIT ?? 'local',
    logLevel: e.LOG_LEVEL,
    metricsPort: e.METRICS_PORT,
    databasePoolSize: e.DATABASE_POOL_SIZE ?? 10,
    shutdownTimeoutMs: e.SHUTDOWN_TIMEOUT_MS ?? 25_000,
    heartbeatIntervalMs: e.HEARTBEAT_INTERVAL_MS ?? 10_000,
    rateLimitPerMinute: e.RATE_LIMIT_PER_MINUTE ?? 120,
    corsOrigins: splitList(e.CORS_ORIGINS),
    trustProxyHops: e.TRUST_PROXY ?? 0,
    requestTimeoutMs,
    headersTimeoutMs,
    socketIdleTimeoutMs,
    metricsToken: e.METRICS_TOKEN,
    // Closed by default in production: the scrape reads every queue and the database, and is public otherwise.
    metricsEnabled: e.METRICS_TOKEN !== undefined || !isProduction,
    docsEnabled: e.DOCS_ENABLED !== 'false',
    queuePrefix: queuePrefix.prefix,
    deprecations: queuePrefix.deprecations,
    live: {
      streamsPerToken: e.LIVE_STREAMS_PER_TOKEN ?? 1_000,
      heartbeatMs: liveHeartbeatMs,
      // While the LISTEN connection is down, the state is read from the table at least this often.
      fallbackMaxAgeMs: e.LIVE_FALLBACK_MAX_AGE_MS ?? 1_000,
      // Past this age (listener down and reads failing), /live answers 503 rather than a state it cannot vouch for.
      maxStalenessMs: e.LIVE_MAX_STALENESS_MS ?? 15_000,
    },
    changeMaxAgeSeconds: e.CHANGE_MAX_AGE_SECONDS ?? DEFAULT_CHANGE_MAX_AGE_SECONDS,
    transientRetry,
    notifications,
  });
};

/**
 * Entrypoint helper: loads the config or prints the problem (naming the variable) and exits with status 78
 * (EX_CONFIG). Only entrypoints call this; everything below them takes the Config as an argument.
 */
export const loadConfigOrExit = (env: Readonly<Record<string, string | undefined>>, service: ServiceName): Config => {
  try {
    return loadConfig(env, service);
  } catch (error) {
    if (error instanceof ConfigError) {
      process.stderr.write(`${service}: ${error.message}\n`);
      process.exit(78);
    }
    throw error;
  }
};
