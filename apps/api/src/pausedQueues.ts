import type { QueueName } from '@valhalla/contract';
import { withTimeout } from '@valhalla/core';
import type { ApiDependencies } from './dependencies.js';

/** How long the paused-queue probe may take before /health and the status answer without it. */
const PAUSED_PROBE_TIMEOUT_MS = 1_000;

/**
 * The queues that are paused in Redis, or null when Redis does not answer. A paused queue accepts jobs (the api
 * answers 202) that no worker takes: /health and the runbook status say so. Engages and disables run on
 * `governance-safety`, so only pausing that queue holds them back.
 */
export const readPausedQueues = async (deps: ApiDependencies): Promise<QueueName[] | null> => {
  try {
    const entries = Object.entries(deps.queues.byName) as [QueueName, (typeof deps.queues.byName)[QueueName]][];
    const paused = await withTimeout(Promise.all(entries.map(async ([name, queue]) => ((await queue.isPaused()) ? name : null))), PAUSED_PROBE_TIMEOUT_MS, 'paused queues');
    return paused.filter((name): name is QueueName => name !== null);
  } catch {
    return null;
  }
};
