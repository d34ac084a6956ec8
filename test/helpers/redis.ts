import { randomBytes } from 'node:crypto';
import { Redis } from 'ioredis';
import { afterAll, inject } from 'vitest';
import { redisPrimaries, type RedisClient } from '../../packages/core/src/index.js';
import { track } from './leaks.js';
import { runQueuePrefixStart } from './leftovers.js';

export const testRedisUrl = () => inject('redisUrl');

/** The prefixes this test file handed out: their keys are deleted when the file ends (installQueuePrefixCleanup). */
const handedOut = new Set<string>();

/**
 * A BullMQ prefix of its own per test file or test, so queues never see each other's jobs. It carries the run id
 * (the end-of-run check finds this run's keys by it) and is cleaned up when the file ends: the api and worker
 * processes a test starts leave their queues' keys behind, and so does a failed test.
 */
export const uniqueQueuePrefix = (label = 't'): string => {
  const prefix = `${runQueuePrefixStart(inject('runId'))}${label}-${randomBytes(4).toString('hex')}`;
  handedOut.add(prefix);
  return prefix;
};

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

/** Deletes every key under a prefix (SCAN, never KEYS), on each primary of a Cluster. */
export const deleteKeysWithPrefix = async (redis: RedisClient, prefix: string): Promise<void> => {
  for (const primary of redisPrimaries(redis)) {
    let cursor = '0';
    do {
      const [next, keys] = await primary.scan(cursor, 'MATCH', `${prefix}:*`, 'COUNT', 500);
      cursor = next;
      // On a Cluster the keys of one (hash-tagged) prefix share a slot, so one DEL may take them all.
      if (keys.length > 0) await primary.del(...keys);
    } while (cursor !== '0');
  }
};

/**
 * Called once per file from the setup file, before the leak guard: after-hooks run last-registered first, so this
 * runs after the file's own hooks and the leak guard have stopped every process and worker that could still write.
 */
export const installQueuePrefixCleanup = () => {
  afterAll(async () => {
    if (handedOut.size === 0) return;
    const redis = new Redis(testRedisUrl(), { maxRetriesPerRequest: 1 });
    try {
      for (const prefix of handedOut) await deleteKeysWithPrefix(redis, prefix);
      handedOut.clear();
    } finally {
      redis.disconnect();
    }
  });
};
