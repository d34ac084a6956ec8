import type { Logger } from '@valhalla/core';
import { withTimeout } from './dependencyCalls.js';

/** One step of the shutdown, in order: a name for the log and what to run. */
export type ApiShutdownSteps = readonly { name: string; run: () => Promise<unknown>; timeoutMs?: number }[];

/**
 * Returns an idempotent shutdown: the first call runs every step in order (stop intake and drain, then queues, Redis,
 * the pool), each bounded by its timeout and run even when an earlier one failed; later calls return the same
 * promise. Resolves with the steps that completed, in the order they ran, and those that failed; never rejects.
 */
export type ApiShutdownOutcome = { completed: string[]; failed: string[] };

export const createApiShutdown = (steps: ApiShutdownSteps, logger: Logger): (() => Promise<ApiShutdownOutcome>) => {
  let running: Promise<ApiShutdownOutcome> | undefined;
  const run = async (): Promise<ApiShutdownOutcome> => {
    const completed: string[] = [];
    const failed: string[] = [];
    for (const step of steps) {
      const started = Date.now();
      try {
        await (step.timeoutMs === undefined ? step.run() : withTimeout(step.run(), step.timeoutMs, step.name));
        completed.push(step.name);
        logger.info({ step: step.name, ms: Date.now() - started }, 'shutdown step done');
      } catch (error) {
        failed.push(step.name);
        logger.error({ err: error, step: step.name }, 'shutdown step failed');
      }
    }
    return { completed, failed };
  };
  return () => {
    running ??= run();
    return running;
  };
};
