import { spawn, spawnSync } from 'node:child_process';
import { Redis } from 'ioredis';
import { pickPort } from './freePort.js';

export type StartedRedis = { url: string; pid: number; stop: () => Promise<void> };

export class RedisServerMissingError extends Error {
  constructor() {
    super(
      [
        'No REDIS_URL is set and no redis-server was found on the PATH. Either:',
        '  - install it: apt-get install redis-server   (macOS: brew install redis)',
        '  - or run one in Docker: docker compose up -d redis   (then REDIS_URL=redis://127.0.0.1:6379 npm run dev)',
        '  - or point at any Redis 7: REDIS_URL=redis://host:6379 npm run dev',
      ].join('\n'),
    );
  }
}

const findRedisServer = (): string | undefined => {
  const result = spawnSync('sh', ['-c', 'command -v redis-server'], { encoding: 'utf8' });
  const path = result.stdout.trim();
  return result.status === 0 && path.length > 0 ? path : undefined;
};

/**
 * Starts `redis-server` from the PATH on a free port, configured as BullMQ needs it: no eviction (a queue must never
 * lose keys), no persistence (development only).
 * @throws RedisServerMissingError with the ways to get one.
 */
export const startLocalRedis = async (log: (line: string) => void): Promise<StartedRedis> => {
  const binary = findRedisServer();
  if (binary === undefined) throw new RedisServerMissingError();
  const port = await pickPort(63790);
  const child = spawn(binary, ['--port', String(port), '--bind', '127.0.0.1', '--save', '', '--appendonly', 'no', '--maxmemory-policy', 'noeviction'], {
    stdio: 'ignore',
    // Its own process group: stopped by the dev script after the worker and api, not directly by Ctrl-C.
    detached: true,
  });
  const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()));
  const deadline = Date.now() + 10_000;
  for (;;) {
    const probe = new Redis({ host: '127.0.0.1', port, lazyConnect: true, maxRetriesPerRequest: 0, retryStrategy: () => null });
    probe.on('error', () => {});
    const ok = await probe.connect().then(() => probe.ping()).then(() => true, () => false);
    probe.disconnect();
    if (ok) break;
    if (child.exitCode !== null || Date.now() > deadline) throw new Error(`redis-server did not start on port ${port}`);
    await new Promise((resolve) => setTimeout(resolve, 50));
  }
  log(`redis-server started on port ${port}`);
  return {
    pid: child.pid as number,
    url: `redis://127.0.0.1:${port}`,
    stop: async () => {
      if (child.exitCode === null && child.signalCode === null) child.kill('SIGTERM');
      const timer = setTimeout(() => child.kill('SIGKILL'), 10_000);
      await exited;
      clearTimeout(timer);
    },
  };
};
