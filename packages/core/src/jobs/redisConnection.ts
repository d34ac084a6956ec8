import { Redis, type RedisOptions } from 'ioredis';

/**
 * ioredis connections for BullMQ, by role. Workers block on Redis and must retry forever
 * (`maxRetriesPerRequest: null`, which BullMQ requires). Producers (the api) fail fast instead: no offline queue
 * and a short connect timeout, so a request answers 503 instead of hanging while Redis is down.
 */
export type RedisRole = 'worker' | 'producer';

export const redisOptionsFor = (role: RedisRole): RedisOptions =>
  role === 'worker'
    ? {
        maxRetriesPerRequest: null,
        enableReadyCheck: true,
        // Reconnect forever with a capped backoff: Redis restarts (and loses its data) on some platforms.
        retryStrategy: (times) => Math.min(100 * 2 ** Math.min(times, 6), 3_000),
      }
    : {
        maxRetriesPerRequest: 1,
        enableOfflineQueue: false,
        // Commands issued in the same tick (concurrent requests' job adds) go out in one write instead of one each.
        enableAutoPipelining: true,
        connectTimeout: 2_000,
        commandTimeout: 2_000,
        retryStrategy: (times) => Math.min(100 * 2 ** Math.min(times, 5), 2_000),
      };

export const createRedisConnection = (url: string, role: RedisRole, connectionName?: string): Redis => {
  const redis = new Redis(url, { ...redisOptionsFor(role), ...(connectionName === undefined ? {} : { connectionName }) });
  // Errors surface through the commands that fail; an unhandled 'error' event would crash the process.
  redis.on('error', () => {});
  return redis;
};
