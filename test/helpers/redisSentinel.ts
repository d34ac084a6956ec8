import { SENTINEL_MASTER_NAME, startSentinelGroup as startProcesses, type SentinelGroupProcesses } from '../../bench/lib/redisTopologies.js';
import { track } from './leaks.js';

export { SENTINEL_MASTER_NAME };
export type OwnSentinelGroup = SentinelGroupProcesses;

/**
 * A Sentinel group of the test's own: a primary, a replica and three sentinels (see bench/lib/redisTopologies.ts),
 * registered with the leak guard: stop it in the scope that started it.
 */
export const startSentinelGroup = async (): Promise<OwnSentinelGroup> => {
  const group = await startProcesses();
  return track(group, { description: `sentinel group ${group.sentinelsEnv}`, isOpen: group.running, close: group.stop });
};
