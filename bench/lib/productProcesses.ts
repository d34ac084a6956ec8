import type { BenchContext } from '../measure/context.ts';
import { freePort, productionNodeFlags, startProcess, type BenchProcess } from './environment.ts';

/**
 * An api or a worker of a step's own, beside the run's main pair: the production entrypoint with its node flags,
 * NODE_ENV=production, the run's database, audit key and operator token, and whatever the step overrides (its own
 * queue prefix, Redis, database URL through a proxy, WORKER_CONCURRENCY…).
 */
type ProcessOptions = { name: string; env?: Record<string, string> };

const commonEnv = (ctx: BenchContext, name: string): Record<string, string> => ({
  NODE_ENV: 'production',
  AUDIT_HMAC_KEYS: ctx.auditKeys,
  DATABASE_URL: ctx.databaseUrl,
  REDIS_URL: ctx.redisUrl,
  QUEUE_PREFIX: `${ctx.prefix}-${name}`,
  RELEASE: `bench-${name}`,
  // The machine's PostgreSQL is shared (100 connections): a step's processes take few.
  DATABASE_POOL_SIZE: '4',
});

export type BenchApi = { process: BenchProcess; url: string };

/**
 * Starts an api and resolves once `/health` answers 200 (`ok` or `degraded`: a step may start it on a Redis it stops).
 * @throws when it is not healthy within 30 s.
 */
export const startBenchApi = async (ctx: BenchContext, options: ProcessOptions): Promise<BenchApi> => {
  const port = await freePort();
  const api = startProcess(
    'apps/api/dist/main.js',
    {
      ...commonEnv(ctx, options.name),
      LOG_LEVEL: 'error',
      PORT: String(port),
      HOST: '127.0.0.1',
      GOVERNANCE_TOKENS: `bench:${ctx.token}`,
      RATE_LIMIT_PER_MINUTE: '1000000',
      ...options.env,
    },
    productionNodeFlags('start:api'),
  );
  const url = `http://127.0.0.1:${port}`;
  const deadline = Date.now() + 30_000;
  while (!(await fetch(`${url}/health`).then((response) => response.ok, () => false))) {
    if (Date.now() > deadline || api.child.exitCode !== null) {
      await api.stop();
      throw new Error(`api ${options.name} did not become healthy: ${api.output().slice(-2000)}`);
    }
    await new Promise((resolve) => setTimeout(resolve, 100));
  }
  return { process: api, url };
};

/** Starts a worker and resolves once it logged that it is ready. @throws when it is not within 30 s. */
export const startBenchWorker = async (ctx: BenchContext, options: ProcessOptions): Promise<BenchProcess> => {
  // LOG_LEVEL info: "worker ready" is an info line.
  const worker = startProcess('apps/worker/dist/main.js', { ...commonEnv(ctx, options.name), LOG_LEVEL: 'info', ...options.env }, productionNodeFlags('start:worker'));
  try {
    await worker.waitFor(/worker ready/);
  } catch (error) {
    await worker.stop();
    throw error;
  }
  return worker;
};
