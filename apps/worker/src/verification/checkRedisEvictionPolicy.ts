import { redisPrimaries, type RedisClient } from '@valhalla/core';
import { type VerificationCheck } from '@valhalla/contract';
import { measureCheck, type CheckPolicy } from './measureCheck.js';
import { MeasurementUnavailable } from './MeasurementUnavailable.js';

export const REDIS_EVICTION_CHECK = 'redis maxmemory-policy is noeviction';

/**
 * An evicted BullMQ key is a lost job: Redis must not evict. Read from `INFO memory` (as BullMQ does), because managed
 * Redis (Render Key Value) often disables CONFIG. On a Redis Cluster every primary is asked: one that evicts loses the
 * jobs of the slots it holds.
 */
export const checkRedisEvictionPolicy = (redis: RedisClient, policy: CheckPolicy): Promise<VerificationCheck> =>
  measureCheck(REDIS_EVICTION_CHECK, policy, async () => {
    const primaries = redisPrimaries(redis);
    if (primaries.length === 0) throw new MeasurementUnavailable('no Redis primary is connected');
    const policies = await Promise.all(
      primaries.map(async (primary) => {
        const value = /^maxmemory_policy:(\S+)/m.exec(await primary.info('memory'))?.[1];
        if (value === undefined) throw new MeasurementUnavailable('INFO memory has no maxmemory_policy');
        return value;
      }),
    );
    const evicting = [...new Set(policies.filter((value) => value !== 'noeviction'))];
    const where = primaries.length > 1 ? ` on ${policies.filter((value) => value !== 'noeviction').length} of ${primaries.length} primaries` : '';
    return evicting.length === 0
      ? { ok: true, detail: primaries.length > 1 ? `maxmemory_policy is noeviction on all ${primaries.length} primaries` : 'maxmemory_policy is noeviction' }
      : { ok: false, detail: `maxmemory_policy is ${evicting.join(', ')}${where}: Redis may evict BullMQ keys (lost jobs); set noeviction` };
  });
