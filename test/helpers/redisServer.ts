import { pickPort } from '../../apps/cli/src/dev/freePort.js';
import { startRedisServer, type OwnRedis, type OwnRedisOptions } from '../../bench/lib/redisServer.js';
import { track } from './leaks.js';

export type { OwnRedis };

/** A free TCP port on 127.0.0.1, chosen by the kernel (the dev script's own port picker, with no preference). */
export const freePort = (): Promise<number> => pickPort();

/**
 * A redis-server of the test's own on a free port (see bench/lib/redisServer.ts), for tests that stop Redis,
 * registered with the leak guard. Needs `redis-server` on the PATH (CI installs it).
 */
export const startOwnRedis = async (options: Partial<OwnRedisOptions> = {}): Promise<OwnRedis> => {
  const own = await startRedisServer({ ...options, port: options.port ?? (await freePort()) });
  return track(own, { description: `redis-server on port ${own.port}`, isOpen: own.isRunning, close: own.kill });
};
