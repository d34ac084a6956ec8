import type { Queue } from 'bullmq';
import { QUEUES, type QueueName } from '@valhalla/contract';

/**
 * The one definition of queue depth, used by the api's and the worker's `valhalla_queue_jobs` and by the console:
 * each reported state and the BullMQ states folded into it. A prioritised job (every governance job has a priority)
 * and a parent waiting for its children are both still waiting to run.
 */
export const QUEUE_DEPTH_STATES = {
  waiting: ['waiting', 'prioritized', 'waiting-children'],
  active: ['active'],
  delayed: ['delayed'],
  failed: ['failed'],
} as const;
type QueueDepthState = keyof typeof QUEUE_DEPTH_STATES;
export type QueueDepth = Record<QueueDepthState, number>;

/** Jobs per queue and reported state, in one round trip per queue. @throws whatever BullMQ throws (Redis down). */
export const readQueueDepths = async (queues: Readonly<Record<QueueName, Queue>>): Promise<Record<QueueName, QueueDepth>> => {
  const names = Object.values(QUEUES) as QueueName[];
  const bullStates = Object.values(QUEUE_DEPTH_STATES).flat();
  const counts = await Promise.all(names.map((name) => queues[name].getJobCounts(...bullStates)));
  const fold = (byState: Record<string, number>): QueueDepth => {
    const depth = { waiting: 0, active: 0, delayed: 0, failed: 0 };
    for (const [state, folded] of Object.entries(QUEUE_DEPTH_STATES) as [QueueDepthState, readonly string[]][]) {
      depth[state] = folded.reduce((sum, bullState) => sum + (byState[bullState] ?? 0), 0);
    }
    return depth;
  };
  return Object.fromEntries(names.map((name, index) => [name, fold(counts[index] ?? {})])) as Record<QueueName, QueueDepth>;
};
