import { randomBytes } from 'node:crypto';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { productionNodeFlags } from '../../../bench/lib/environment.js';
import { startOwnRedis, type OwnRedis } from '../../helpers/redisServer.js';
import { createChaosDatabase, type ChaosDatabase } from './chaosDatabase.js';
import { openDatabaseLink } from './databaseLink.js';
import { pickStablePort } from './pickStablePort.js';
import { createProductProcess, type ProductProcess, type StartupExit, type UnexpectedExit } from './productProcess.js';

/** The operator the HTTP clients act as (production refuses tokens under 24 characters). */
export const CHAOS_OPERATOR = { actor: 'chaos-operator', token: 'chaos-operator-token-0123456789abcdef' } as const;
const AUDIT_HMAC_KEYS = 'chaos:chaos-audit-key-0123456789abcdef0123456789';

/**
 * Connections per process: the PostgreSQL of this machine is shared (100 connections); 4 processes at the product's
 * default of 10 each, plus the api's live-state listeners, would take half of them.
 */
const DATABASE_POOL_SIZE = '5';
/**
 * The scheduled verification (every 15 min by default) is off: its scheduler keeps a delayed job in the verification
 * queue for ever, and a drained cluster is one whose queues are empty. The run's clients request verifications.
 */
const VERIFY_INTERVAL_SECONDS = '0';

export type ChaosCluster = {
  readonly database: ChaosDatabase;
  readonly redis: OwnRedis;
  /** Where Redis keeps its append-only file (deleted by "Redis restarted empty"). */
  readonly redisDir: string;
  readonly apis: readonly ProductProcess[];
  readonly workers: readonly ProductProcess[];
  readonly processes: readonly ProductProcess[];
  readonly auditKeys: string;
  /** Exits the suite did not cause, each followed by a restart. */
  readonly unexpectedExits: UnexpectedExit[];
  /** Processes that exited while starting and were started again. */
  readonly startupExits: StartupExit[];
  /** Gives every process its database back and (re)starts any process that is not running; waits until all are ready. */
  recover: () => Promise<void>;
  /** Stops every process (SIGTERM), the links and Redis, and drops the database unless `keepDatabase`. */
  stop: (options: { keepDatabase: boolean }) => Promise<void>;
};

/**
 * 2 apis and 2 workers (the built production entrypoints with the production memory flags, and the product's defaults
 * but for the two settings below), each reaching PostgreSQL through a link of its own, on a database created for the
 * run, and a redis-server of the run's own with an append-only file and `noeviction`.
 */
export const startChaosCluster = async (options: { adminDatabaseUrl: string; databasePrefix: string; readyTimeoutMs: number }): Promise<ChaosCluster> => {
  const id = randomBytes(3).toString('hex');
  const cleanups: (() => Promise<unknown>)[] = [];
  const cleanUp = async () => {
    for (const cleanup of cleanups.reverse()) await cleanup().catch(() => undefined);
  };
  try {
    const database = await createChaosDatabase(options.adminDatabaseUrl, options.databasePrefix);
    cleanups.push(database.drop);
    const redisDir = await mkdtemp(join(tmpdir(), 'valhalla-chaos-redis-'));
    cleanups.push(() => rm(redisDir, { recursive: true, force: true }));
    const ports = new Set<number>();
    const redis = await startOwnRedis({ appendOnlyDir: redisDir, startTimeoutMs: 60_000, port: await pickStablePort(ports) });
    cleanups.push(redis.stop);

    const unexpectedExits: UnexpectedExit[] = [];
    const startupExits: StartupExit[] = [];
    let stopping = false;
    const processes: ProductProcess[] = [];
    const common = {
      NODE_ENV: 'production',
      REDIS_URL: redis.url,
      AUDIT_HMAC_KEYS,
      LOG_LEVEL: 'warn',
      RELEASE: `chaos-${id}`,
      HOST: '127.0.0.1',
      DATABASE_POOL_SIZE,
    };
    const add = async (kind: 'api' | 'worker', index: number) => {
      const link = await openDatabaseLink(database.server, await pickStablePort(ports));
      cleanups.push(link.close);
      const url = new URL(database.url);
      url.port = String(link.port);
      const port = await pickStablePort(ports);
      const env: Record<string, string> =
        kind === 'api'
          ? { ...common, DATABASE_URL: url.toString(), PORT: String(port), GOVERNANCE_TOKENS: `${CHAOS_OPERATOR.actor}:${CHAOS_OPERATOR.token}`, RATE_LIMIT_PER_MINUTE: '1000000' }
          : { ...common, DATABASE_URL: url.toString(), METRICS_PORT: String(port), VERIFY_INTERVAL_SECONDS };
      const product: ProductProcess = createProductProcess({
        name: `${kind}-${index}`,
        kind,
        script: kind === 'api' ? 'apps/api/dist/main.js' : 'apps/worker/dist/main.js',
        nodeFlags: productionNodeFlags(kind === 'api' ? 'start:api' : 'start:worker'),
        env,
        link,
        port,
        readyTimeoutMs: options.readyTimeoutMs,
        onUnexpectedExit: (exit) => {
          if (stopping) return;
          unexpectedExits.push(exit);
          product.start().catch(() => undefined);
        },
        onStartupExit: (exit) => startupExits.push(exit),
      });
      processes.push(product);
    };
    await add('api', 1);
    await add('api', 2);
    await add('worker', 1);
    await add('worker', 2);
    cleanups.push(async () => {
      stopping = true;
      await Promise.allSettled(processes.map((product) => product.stop()));
    });
    await Promise.all(processes.map((product) => product.start()));

    return {
      database,
      redis,
      redisDir,
      apis: processes.filter((product) => product.kind === 'api'),
      workers: processes.filter((product) => product.kind === 'worker'),
      processes,
      auditKeys: AUDIT_HMAC_KEYS,
      unexpectedExits,
      startupExits,
      recover: async () => {
        for (const product of processes) await product.link.restore();
        await Promise.all(processes.map((product) => product.start()));
      },
      stop: async ({ keepDatabase }) => {
        if (keepDatabase) cleanups.splice(cleanups.indexOf(database.drop), 1);
        await cleanUp();
      },
    };
  } catch (error) {
    await cleanUp();
    throw error;
  }
};
