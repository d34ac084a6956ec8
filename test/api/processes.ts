import { startNodeProcess, type ManagedProcess } from '../helpers/processes.js';
import { freePort } from '../helpers/redisServer.js';
import { TOKENS_ENV } from './support.js';

export const API_ENTRYPOINT = 'apps/api/dist/main.js';
const WORKER_ENTRYPOINT = 'apps/worker/dist/main.js';

/** Starts the built api on a free port (or `port`, to start it again at the same address) and waits until it listens. */
export const startApiProcess = async (env: { databaseUrl: string; redisUrl: string; prefix: string; extra?: Record<string, string>; port?: number }): Promise<{
  process: ManagedProcess;
  url: string;
}> => {
  const port = env.port ?? (await freePort());
  const process = startNodeProcess(
    API_ENTRYPOINT,
    [],
    {
      DATABASE_URL: env.databaseUrl,
      REDIS_URL: env.redisUrl,
      QUEUE_PREFIX: env.prefix,
      PORT: String(port),
      HOST: '127.0.0.1',
      GOVERNANCE_TOKENS: TOKENS_ENV,
      LOG_LEVEL: 'info',
      NODE_ENV: 'test',
      ...env.extra,
    },
    'api',
  );
  await process.waitForOutput(/api listening on/, 20_000);
  return { process, url: `http://127.0.0.1:${port}` };
};

/** Starts the built worker for a test database and queue prefix (does not wait: callers wait for what they need). */
export const startWorkerProcess = (env: { databaseUrl: string; redisUrl: string; prefix: string; extra?: Record<string, string> }): ManagedProcess =>
  startNodeProcess(
    WORKER_ENTRYPOINT,
    [],
    { DATABASE_URL: env.databaseUrl, REDIS_URL: env.redisUrl, QUEUE_PREFIX: env.prefix, LOG_LEVEL: 'info', NODE_ENV: 'test', ...env.extra },
    'worker',
  );
