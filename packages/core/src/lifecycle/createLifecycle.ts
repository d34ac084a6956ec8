import { withTimeout } from './withTimeout.js';

/** How a shutdown ended: the steps that completed, in the order they ran, and those that failed or timed out. */
export type ShutdownOutcome = { completed: string[]; failed: string[] };

export type Lifecycle = {
  /**
   * Registers how to close a resource, right after it was created: whatever exists when the shutdown starts is closed,
   * and nothing that was never created. Steps run in reverse order of registration (the last resource created, which
   * depends on the earlier ones, is closed first). `timeoutMs` bounds the step; past it the step counts as failed and
   * the next one runs.
   */
  add(name: string, close: () => unknown, options?: { timeoutMs?: number }): void;
  /**
   * Runs every registered step once, each even when an earlier one failed. Idempotent: later calls return the same
   * promise. Never rejects. A step registered after the shutdown started is run at once (a resource whose creation
   * was under way when the signal came).
   */
  close(): Promise<ShutdownOutcome>;
  readonly closing: boolean;
};

/**
 * What the lifecycle logs through: a pino Logger, or lines of one's own (the dev script and the benchmark print
 * theirs).
 */
export type LifecycleLog = {
  info(fields: { step: string; ms: number }, message: string): void;
  error(fields: { step: string; err: unknown }, message: string): void;
};

type Step = { name: string; close: () => unknown; timeoutMs: number | undefined };

const bounded = async (step: Step): Promise<void> => {
  const run = Promise.resolve().then(() => step.close());
  await (step.timeoutMs === undefined ? run : withTimeout(run, step.timeoutMs, step.name));
};

/**
 * The one shutdown of every process (api, worker, the dev script, the benchmark): ordered, idempotent, total. Resources register their closing
 * step when they are created; the entrypoint owns the signals (see handleShutdownSignals) and calls `close()`.
 */
export const createLifecycle = (logger: LifecycleLog): Lifecycle => {
  const steps: Step[] = [];
  const outcome: ShutdownOutcome = { completed: [], failed: [] };
  let running: Promise<ShutdownOutcome> | undefined;

  const runStep = async (step: Step) => {
    const started = Date.now();
    try {
      await bounded(step);
      outcome.completed.push(step.name);
      logger.info({ step: step.name, ms: Date.now() - started }, 'shutdown step done');
    } catch (error) {
      outcome.failed.push(step.name);
      logger.error({ err: error, step: step.name }, 'shutdown step failed');
    }
  };

  return {
    add: (name, close, options = {}) => {
      const step = { name, close, timeoutMs: options.timeoutMs };
      if (running === undefined) steps.push(step);
      else void runStep(step);
    },
    close: () => {
      running ??= (async () => {
        for (let step = steps.pop(); step !== undefined; step = steps.pop()) await runStep(step);
        return outcome;
      })();
      return running;
    },
    get closing() {
      return running !== undefined;
    },
  };
};
