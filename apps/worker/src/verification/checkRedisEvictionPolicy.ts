import type { VerificationCheck } from '@valhalla/core';
import type { Redis } from 'ioredis';
import { measureCheck, type CheckPolicy } from './measureCheck.js';
import { MeasurementUnavailable } from './MeasurementUnavailable.js';

export const REDIS_EVICTION_CHECK = 'redis maxmemory-policy is noeviction';

/**
 * An evicted BullMQ key is a lost job: Redis must not evict. Read from `INFO memory` (as BullMQ does), because managed
 * Redis (Render Key Value) often disables CONFIG.
 */
export const checkRedisEvictionPolicy = (redis: Redis, policy: CheckPolicy): Promise<VerificationCheck> =>
  measureCheck(REDIS_EVICTION_CHECK, policy, async () => {
    const info = await redis.info('memory');
    const value = /^maxmemory_policy:(\S+)/m.exec(info)?.[1];
    if (value === undefined) throw new MeasurementUnavailable('INFO memory has no maxmemory_policy');
    return value === 'noeviction'
      ? { ok: true, detail: 'maxmemory_policy is noeviction' }
      : { ok: false, detail: `maxmemory_policy is ${value}: Redis may evict BullMQ keys (lost jobs); set noeviction` };
  });
