import type { Logger } from '@valhalla/core';

/** `run` may return a promise; it is awaited. */
export type ShutdownStep = { name: string; run: () => unknown };

/**
 * Runs shutdown steps in order; each one runs even when an earlier one failed (a failure is logged, not thrown), so
 * a broken Redis cannot keep the pool open. Returns the names of the steps that failed.
 */
export const runShutdownSteps = async (steps: readonly ShutdownStep[], log: Logger): Promise<string[]> => {
  const failed: string[] = [];
  for (const step of steps) {
    try {
      await step.run();
      log.debug({ step: step.name }, 'shutdown step done');
    } catch (err) {
      failed.push(step.name);
      log.error({ err, step: step.name }, 'shutdown step failed');
    }
  }
  return failed;
};
