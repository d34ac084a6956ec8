import { randomBytes } from 'node:crypto';
import { Redis } from 'ioredis';
import { inject } from 'vitest';
import { track } from './leaks.js';

export const testRedisUrl = () => inject('redisUrl');

/** A BullMQ prefix of its own per test file or test, so queues never see each other's jobs. */
export const uniqueQueuePrefix = (label = 't'): string => `bull-test-${label}-${randomBytes(4).toString('hex')}`;

/** An ioredis connection registered with the leak guard. */
export const createTestRedis = (options: { maxRetriesPerRequest?: number | null } = {}): Redis => {
  const redis = new Redis(testRedisUrl(), { maxRetriesPerRequest: options.maxRetriesPerRequest ?? null, lazyConnect: false });
  return track(redis, {
    description: 'ioredis connection',
    isOpen: () => redis.status !== 'end',
    close: async () => {
      redis.disconnect();
    },
  });
};

/** Deletes every key under a prefix (SCAN, never KEYS). */
export const deleteKeysWithPrefix = async (redis: Redis, prefix: string): Promise<void> => {
  let cursor = '0';
  do {
    const [next, keys] = await redis.scan(cursor, 'MATCH', `${prefix}:*`, 'COUNT', 500);
    cursor = next;
    if (keys.length > 0) await redis.del(...keys);
  } while (cursor !== '0');
};
