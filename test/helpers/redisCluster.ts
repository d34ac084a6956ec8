import { startRedisCluster as startProcesses, type RedisClusterProcesses } from '../../bench/lib/redisTopologies.js';
import { track } from './leaks.js';

export type OwnRedisCluster = RedisClusterProcesses;

/**
 * A real Redis Cluster of `masters` primaries and no replicas, of the test's own (see bench/lib/redisTopologies.ts),
 * registered with the leak guard: stop it in the scope that started it.
 */
export const startRedisCluster = async (masters = 3): Promise<OwnRedisCluster> => {
  const cluster = await startProcesses(masters);
  return track(cluster, { description: `redis cluster ${cluster.nodesEnv}`, isOpen: cluster.running, close: cluster.stop });
};
