import { afterAll, afterEach, beforeAll, beforeEach } from 'vitest';
import type { FastifyInstance } from 'fastify';
import { buildServer, type BuildServerOptions, type ProducerRedis } from '../../apps/api/src/index.js';
import {
  createGovernanceQueues,
  createLogger,
  createRedisConnection,
  loadConfig,
  sql,
  type Config,
  type GovernanceQueues,
} from '../../packages/core/src/index.js';
import { createMigrator } from '../../packages/core/src/migrator/index.js';
import type { HostResolver } from '../../packages/core/src/notifications/index.js';
import { useTestDatabase, type TestDatabase } from '../helpers/database.js';
import { MIGRATIONS_DIR } from '../helpers/globalSetup.js';
import { track } from '../helpers/leaks.js';
import { deleteKeysWithPrefix, testRedisUrl, uniqueQueuePrefix } from '../helpers/redis.js';

export const ALICE = { actor: 'alice', token: 'alice-token-0123456789abcdef' } as const;
export const BOB = { actor: 'bob', token: 'bob-token-0123456789abcdefgh' } as const;
export const TOKENS_ENV = `${ALICE.actor}:${ALICE.token},${BOB.actor}:${BOB.token}`;

export const bearer = (token: string = ALICE.token) => ({ authorization: `Bearer ${token}` });

export type ApiHarness = {
  app: FastifyInstance;
  config: Config;
  redis: ProducerRedis;
  queues: GovernanceQueues;
  prefix: string;
  database: TestDatabase;
  redisUrl: string;
  /** Jobs on both queues, in every state. */
  jobCount: () => Promise<number>;
  /** Rows written by requests: idempotency keys, audit entries, verification runs, and row 1 of both state tables. */
  stateFingerprint: () => Promise<string>;
};

export type ApiHarnessOptions = {
  env?: Record<string, string>;
  /** A Redis of the test's own (for tests that stop it); the shared test Redis otherwise. */
  redisUrl?: () => string;
  /** Where the api's log lines go (they are discarded otherwise, at LOG_LEVEL silent). */
  logDestination?: NodeJS.WritableStream;
  server?: BuildServerOptions;
  /** Wraps the pool the server is given (tests that count or break the server's database calls). */
  wrapPool?: (pool: TestDatabase['pool']) => TestDatabase['pool'];
  /** How the api resolves notification target hosts (dns.lookup when absent). */
  resolveHost?: HostResolver;
};

/** Builds the server for one test file on its own database and queue prefix, with real PostgreSQL and Redis. */
export const startApi = async (database: TestDatabase, options: ApiHarnessOptions = {}): Promise<ApiHarness & { close: () => Promise<void> }> => {
  // A test may choose the prefix (a hash-tagged one on a Redis Cluster) through QUEUE_PREFIX.
  const prefix = options.env?.QUEUE_PREFIX ?? uniqueQueuePrefix('api');
  const redisUrl = options.redisUrl?.() ?? testRedisUrl();
  const config = loadConfig(
    {
      NODE_ENV: 'test',
      DATABASE_URL: database.url,
      REDIS_URL: redisUrl,
      GOVERNANCE_TOKENS: TOKENS_ENV,
      QUEUE_PREFIX: prefix,
      RATE_LIMIT_PER_MINUTE: '1000000',
      LOG_LEVEL: 'silent',
      ...options.env,
    },
    'api',
  );
  const logger = createLogger({ name: 'api-test', level: config.logLevel, ...(options.logDestination === undefined ? {} : { destination: options.logDestination }) });
  const redis = createRedisConnection(config.redis, 'producer', 'api-test');
  const queues = createGovernanceQueues({ connection: redis, prefix });
  for (const queue of Object.values(queues.byName)) queue.on('error', () => {});
  const migrations = createMigrator({ db: database.pool, migrationsDir: MIGRATIONS_DIR });
  const pool = options.wrapPool?.(database.pool) ?? database.pool;
  const resolveHost = options.resolveHost === undefined ? {} : { resolveHost: options.resolveHost };
  const app = await buildServer({ config, logger, pool, redis, queues, migrations, ...resolveHost }, options.server);
  await app.ready();
  let closed = false;
  const close = async () => {
    if (closed) return;
    closed = true;
    await app.close();
    await queues.close();
    if (redis.status === 'ready') await deleteKeysWithPrefix(redis, prefix).catch(() => {});
    await redis.quit().catch(() => redis.disconnect());
  };
  track(app, { description: `api server (${prefix})`, isOpen: () => !closed, close });
  const jobCount = async () => {
    let total = 0;
    for (const queue of Object.values(queues.byName)) {
      const counts = await queue.getJobCounts('waiting', 'prioritized', 'delayed', 'active', 'completed', 'failed', 'waiting-children');
      total += Object.values(counts).reduce((sum, n) => sum + n, 0);
    }
    return total;
  };
  const stateFingerprint = async () => {
    const row = await database.pool.one(sql.unsafe`
      SELECT (SELECT count(*) FROM public.idempotency_keys)::int AS keys,
             (SELECT count(*) FROM public.governance_audit_log)::int AS audit,
             (SELECT count(*) FROM public.verification_runs)::int AS runs,
             (SELECT row_to_json(g)::text FROM public.go_live_state g WHERE id = 1) AS go_live,
             (SELECT row_to_json(m)::text FROM public.system_metadata m WHERE id = 1) AS metadata
    `);
    return JSON.stringify(row);
  };
  return { app, config, redis, queues, prefix, database, redisUrl, jobCount, stateFingerprint, close };
};

/**
 * beforeAll/afterAll wiring of startApi for a whole file, or beforeEach/afterEach with `perTest` (a database, queue
 * prefix and server per test, for files whose cases change row 1, the audit log or the queues). Read `.current`
 * inside tests.
 */
export const useApi = (options: ApiHarnessOptions & { poolSize?: number; perTest?: boolean } = {}): { readonly current: ApiHarness } => {
  const perTest = options.perTest === true;
  const database = useTestDatabase({ poolSize: options.poolSize ?? 10, perTest });
  let harness: (ApiHarness & { close: () => Promise<void> }) | undefined;
  const start = async () => {
    harness = await startApi(database.current, options);
  };
  const stop = async () => {
    const started = harness;
    harness = undefined;
    await started?.close();
  };
  // Registered after the database's hooks: the server starts after its database exists and closes before it is dropped.
  if (perTest) {
    beforeEach(start);
    afterEach(stop);
  } else {
    beforeAll(start);
    afterAll(stop);
  }
  return {
    get current() {
      if (harness === undefined) throw new Error('useApi: read .current inside a test');
      return harness;
    },
  };
};

/** The data of the only job on a queue prefix, found by id. */
export const jobData = async (harness: ApiHarness, jobId: string): Promise<Record<string, unknown>> => {
  const job = await harness.queues.findJob(jobId);
  if (job === undefined) throw new Error(`no job ${jobId}`);
  return job.data as Record<string, unknown>;
};

/** Quits an ioredis connection and resolves once it has fully ended (what the leak guard checks). */
export const quitRedis = async (redis: ReturnType<typeof createRedisConnection>): Promise<void> => {
  const ended = redis.status === 'end' ? Promise.resolve() : new Promise<void>((resolve) => redis.once('end', () => resolve()));
  await redis.quit().catch(() => redis.disconnect());
  await ended;
};
