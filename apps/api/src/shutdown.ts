import type { Logger } from '@valhalla/core';
import { withTimeout } from './dependencyCalls.js';

/** One step of the shutdown, in order: a name for the log and what to run. */
export type ApiShutdownSteps = readonly { name: string; run: () => Promise<unknown>; timeoutMs?: number }[];

/**
 * Returns an idempotent shutdown: the first call runs every step in order (stop intake and drain, then queues, Redis,
 * the pool), each bounded by its timeout and run even when an earlier one failed; later calls return the same
 * promise. Resolves with the names of the steps that failed (empty when clean); never rejects.
 */
export const createApiShutdown = (steps: ApiShutdownSteps, logger: Logger): (() => Promise<string[]>) => {
  let running: Promise<string[]> | undefined;
  const run = async (): Promise<string[]> => {
    const failed: string[] = [];
    for (const step of steps) {
      const started = Date.now();
      try {
        await (step.timeoutMs === undefined ? step.run() : withTimeout(step.run(), step.timeoutMs, step.name));
        logger.info({ step: step.name, ms: Date.now() - started }, 'shutdown step done');
      } catch (error) {
        failed.push(step.name);
        logger.error({ err: error, step: step.name }, 'shutdown step failed');
      }
    }
    return failed;
  };
  return () => {
    running ??= run();
    return running;
  };
};
