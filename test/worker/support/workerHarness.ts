import { randomUUID } from 'node:crypto';
import { afterEach, beforeEach, expect } from 'vitest';
import { createGovernanceQueues, createLifecycle, createRedisConnection, createLogger, listAuditEntriesInOrder, loadConfig, readGovernanceRows, replayAudit, snapshotOf, sql, type DatabasePool, type GovernanceQueues, type RedisClient, type RedisTopology } from '../../../packages/core/src/index.js';
import { GOVERNANCE_CHANGE_QUEUES, decodeJobFailure, type AuditEntry, type GoLiveChangePayload, type JobFailure, type StateSnapshot } from '../../../packages/contract/src/index.js';
import {
  createWorkerApp,
  createWorkerDependencies,
  type BatchApplier,
  type WorkerApp,
  type WorkerAppOptions,
} from '../../../apps/worker/src/index.js';
import { createTestDatabase, dropTestDatabase, type TestDatabase } from '../../helpers/database.js';
import { track } from '../../helpers/leaks.js';
import { startNodeProcess, type ManagedProcess } from '../../helpers/processes.js';
import { deleteKeysWithPrefix, testRedisUrl, uniqueQueuePrefix } from '../../helpers/redis.js';
import { waitFor } from '../../helpers/waitFor.js';

export const WORKER_MAIN = 'apps/worker/dist/main.js';
export const TEST_RELEASE = 'test-release';

/** The environment of a worker child process for one test database and queue prefix. */
export const workerEnv = (
  database: TestDatabase,
  prefix: string,
  extra: Record<string, string | undefined> = {},
): Record<string, string | undefined> => ({
  DATABASE_URL: database.url,
  REDIS_URL: testRedisUrl(),
  QUEUE_PREFIX: prefix,
  RELEASE: TEST_RELEASE,
  LOG_LEVEL: 'info',
  WORKER_CONCURRENCY: '10',
  DATABASE_POOL_SIZE: '10',
  // Short locks: a killed worker's jobs are redelivered in seconds.
  WORKER_LOCK_DURATION_MS: '2000',
  WORKER_STALLED_INTERVAL_MS: '1000',
  ...extra,
});

/** Starts the built worker as a child process and waits for its ready line. */
export const startWorkerProcess = async (env: Record<string, string | undefined>, label = 'worker'): Promise<ManagedProcess> => {
  const worker = startNodeProcess(WORKER_MAIN, [], env, label);
  await worker.waitForOutput(/"msg":"worker ready"/, 20_000);
  return worker;
};

/**
 * The worker app in this process (a real BullMQ worker on real Redis and PostgreSQL), assembled from its production
 * dependencies as main.ts assembles it, closed by the leak guard if leaked. `migrationsDir` picks the revisions;
 * `applyBatch` replaces the group-commit applier (e.g. one whose database hangs).
 */
export const startInProcessWorker = async (
  database: TestDatabase,
  prefix: string,
  options: {
    env?: Record<string, string>;
    app?: Partial<Omit<WorkerAppOptions, 'dependencies' | 'lifecycle'>>;
    migrationsDir?: string;
    applyBatch?: BatchApplier;
  } = {},
): Promise<WorkerApp> => {
  const config = loadConfig(
    {
      NODE_ENV: 'test',
      DATABASE_URL: database.url,
      REDIS_URL: testRedisUrl(),
      QUEUE_PREFIX: prefix,
      RELEASE: TEST_RELEASE,
      DATABASE_POOL_SIZE: '5',
      ...options.env,
    },
    'worker',
  );
  const logger = createLogger({ name: 'worker', level: process.env.TEST_WORKER_LOG_LEVEL ?? 'silent' });
  const lifecycle = createLifecycle(logger);
  const dependencies = await createWorkerDependencies({ config, lifecycle, migrationsDir: options.migrationsDir });
  const app = await createWorkerApp({
    config,
    logger,
    lifecycle,
    dependencies: options.applyBatch === undefined ? dependencies : { ...dependencies, applyBatch: options.applyBatch },
    ...options.app,
  });
  let closed = false;
  const close = async () => {
    closed = true;
    await app.close();
  };
  return track({ ...app, close }, { description: `in-process worker ${app.workerId}`, isOpen: () => !closed, close });
};

export type Producer = {
  queues: GovernanceQueues;
  redis: RedisClient;
  /** Enqueues a go-live-change under a fresh uuid job id; resolves to the id. */
  change: (payload: GoLiveChangePayload) => Promise<string>;
  close: () => Promise<void>;
};

/**
 * A producer on its own connection (what the api or another service does), for one queue prefix, on a Redis URL or
 * any topology (a Cluster, a Sentinel group: with the worker role's connection, which waits for Redis).
 */
export const createProducer = (prefix: string, redis: string | RedisTopology = testRedisUrl()): Producer => {
  const topology: RedisTopology = typeof redis === 'string' ? { kind: 'standalone', url: redis } : redis;
  const connection = createRedisConnection(topology, 'worker', 'test-producer');
  return producerOn(prefix, connection);
};

const producerOn = (prefix: string, redis: RedisClient): Producer => {
  const queues = createGovernanceQueues({ connection: redis, prefix });
  for (const queue of Object.values(queues.byName)) queue.on('error', () => {});
  let closed = false;
  const close = async () => {
    if (closed) return;
    closed = true;
    await queues.close();
    redis.disconnect();
  };
  const producer: Producer = {
    queues,
    redis,
    change: async (payload) => {
      const jobId = randomUUID();
      await queues.enqueue('go-live-change', payload, { jobId });
      return jobId;
    },
    close,
  };
  return track(producer, { description: `producer ${prefix}`, isOpen: () => !closed, close });
};

export type JobOutcome = {
  state: string;
  attemptsMade: number;
  failedReason: string | undefined;
  /** The failure record decoded from failedReason, as every reader does (null unless failed). */
  failure: JobFailure | null;
  returnvalue: unknown;
};

/** Waits until the job is completed or failed and returns how it ended. */
export const waitForJob = async (producer: Producer, jobId: string, timeoutMs = 15_000): Promise<JobOutcome> =>
  waitFor(
    async () => {
      const seen = await producer.queues.findJob(jobId);
      if (seen === undefined) return false;
      const state = await seen.getState();
      if (state !== 'completed' && state !== 'failed') return false;
      // Read the job again: the copy fetched before the state check may predate its last attempt.
      const job = await producer.queues.findJob(jobId);
      if (job === undefined) return false;
      const failure = state === 'failed' ? decodeJobFailure(job.failedReason ?? '') : null;
      return { state, attemptsMade: job.attemptsMade, failedReason: job.failedReason, failure, returnvalue: job.returnvalue };
    },
    { timeoutMs, description: `job ${jobId} to finish` },
  );

/** Job counts summed over both change queues (`governance-safety` and `governance`). */
export const changeJobCounts = async (producer: Producer): Promise<Record<string, number>> => {
  const counts: Record<string, number> = {};
  for (const queue of GOVERNANCE_CHANGE_QUEUES) {
    const one = await producer.queues.byName[queue].getJobCounts('completed', 'failed', 'active', 'wait', 'delayed', 'prioritized');
    for (const [state, n] of Object.entries(one)) counts[state] = (counts[state] ?? 0) + n;
  }
  return counts;
};

/** Failed go-live-change jobs of both change queues. */
export const failedChangeJobs = async (producer: Producer) =>
  (await Promise.all(GOVERNANCE_CHANGE_QUEUES.map((queue) => producer.queues.byName[queue].getFailed(0, -1)))).flat();

/** Completed go-live-change jobs of both change queues. */
export const completedChangeJobs = async (producer: Producer) =>
  (await Promise.all(GOVERNANCE_CHANGE_QUEUES.map((queue) => producer.queues.byName[queue].getCompleted(0, -1)))).flat();

/** Waits until `total` go-live-change jobs (both queues) are completed or failed and none is waiting, delayed or active. */
export const waitForGovernanceJobs = async (producer: Producer, total: number, timeoutMs = 60_000) =>
  waitFor(
    async () => {
      const counts = await changeJobCounts(producer);
      const finished = (counts.completed ?? 0) + (counts.failed ?? 0);
      const pending = (counts.active ?? 0) + (counts.wait ?? 0) + (counts.delayed ?? 0) + (counts.prioritized ?? 0);
      return finished === total && pending === 0 ? counts : false;
    },
    { timeoutMs, intervalMs: 100, description: `${total} governance jobs to finish` },
  );

/** Change entries only: event entries (the keyed-chain upgrade, key rotations, outside writes) are not changes. */
export const auditCount = async (pool: DatabasePool): Promise<number> =>
  (await pool.oneFirst(sql.unsafe`SELECT count(*)::int FROM public.governance_audit_log WHERE kind = 'change'`)) as number;

export const currentSnapshot = async (pool: DatabasePool): Promise<StateSnapshot> => {
  const rows = await readGovernanceRows(pool);
  if (rows === null) throw new Error('seed rows missing');
  return snapshotOf(rows);
};

/**
 * The audit log's story must be the tables' state: each entry's `before` is the state the entries before it left,
 * and replaying the applied ones gives the current row 1 of both tables.
 */
export const expectAuditReplaysToState = async (pool: DatabasePool, initial: StateSnapshot): Promise<AuditEntry[]> => {
  // Event entries (key rotation, outside writes) record no state change; only change entries replay.
  const entries = (await listAuditEntriesInOrder(pool)).filter((entry) => entry.kind === 'change');
  let state = initial;
  for (const entry of entries) {
    expect(entry.before, `audit entry ${entry.id} before`).toEqual(state);
    state = replayAudit(state, [entry]);
  }
  expect(replayAudit(initial, entries)).toEqual(await currentSnapshot(pool));
  return entries;
};

/** A burst of changes cycling through every action, so outcomes of all kinds interleave. */
export const burstPayload = (i: number, reasonPrefix = 'burst'): GoLiveChangePayload => {
  const actor = 'ops:burst';
  const reason = `${reasonPrefix} ${i}`;
  switch (i % 6) {
    case 0:
      return { action: 'kill_switch.release', actor, reason };
    case 1:
      return { action: 'metadata.update', actor, reason, metadata: { backend_complete: i % 4 === 1, notes: `note ${i}` } };
    case 2:
      return { action: 'go_live.enable', actor, reason };
    case 3:
      return { action: 'kill_switch.engage', actor, reason };
    case 4:
      return { action: 'go_live.disable', actor, reason };
    default:
      return { action: 'metadata.update', actor, reason, metadata: { version: `1.0.${i}` } };
  }
};

export type WorkerFixture = { database: TestDatabase; prefix: string; producer: Producer };

/**
 * Per test: a database cloned from the migrated template, a queue prefix, and a producer; all closed (and the
 * prefix's keys deleted) after the test. The database is kept when the test failed.
 */
export const useWorkerFixture = (label: string): { readonly current: WorkerFixture } => {
  let fixture: WorkerFixture | undefined;
  beforeEach(async () => {
    const database = await createTestDatabase(`${label}-${expect.getState().currentTestName ?? ''}`, { poolSize: 4 });
    const prefix = uniqueQueuePrefix(label);
    fixture = { database, prefix, producer: createProducer(prefix) };
  });
  afterEach(async (context) => {
    if (fixture === undefined) return;
    const { database, prefix, producer } = fixture;
    fixture = undefined;
    await deleteKeysWithPrefix(producer.redis, prefix).catch(() => {});
    await producer.close();
    await dropTestDatabase(database, context.task.result?.state === 'fail');
  });
  return {
    get current() {
      if (fixture === undefined) throw new Error('useWorkerFixture: read .current inside a test');
      return fixture;
    },
  };
};
