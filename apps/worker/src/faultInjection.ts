import type { BatchApplier } from './processors/changeBatcher.js';

/**
 * TEST-ONLY fault injection, enabled by the WORKER_FAULT variable (refused in production, inert when unset). The
 * crash-after-commit test needs a worker that dies in the one window nothing else can reach: after a change's
 * transaction committed and before BullMQ was told the job completed.
 *
 * - `crash-after-commit:<n>`: SIGKILL this process after each of the first n changes it commits.
 * - `crash-after-commit:job=<jobId>`: SIGKILL this process after it commits the change of that job.
 *
 * A replayed execution (the job had already committed) never triggers it, so a restarted worker with the same
 * setting completes the redelivered job.
 */
export type FaultInjection = {
  readonly description: string;
  /** Called right after a batch committed, for each of its (non-replayed) members, before any job is acknowledged. */
  afterCommit: (jobId: string) => void;
};

/**
 * Wraps the batch applier the worker is assembled with (main.ts injects it only when WORKER_FAULT is set), so the
 * processors and the applier carry no test hook.
 */
export const withFaultInjection =
  (fault: FaultInjection, apply: BatchApplier): BatchApplier =>
  async (requests, options) => {
    const outcomes = await apply(requests, options);
    outcomes.forEach((outcome, i) => {
      const request = requests[i];
      if (outcome.ok && !outcome.execution.replayed && request !== undefined) fault.afterCommit(request.jobId);
    });
    return outcomes;
  };

const crash = (): never => {
  process.kill(process.pid, 'SIGKILL');
  // SIGKILL is delivered asynchronously; never let the job continue to its ack meanwhile.
  throw new Error('unreachable: the process was killed');
};

/** WORKER_FAULT, as the env module parsed it: after how many commits, or after which job's, to crash. */
export type FaultSpec = {
  readonly description: string;
  readonly crashAfterCommits: number | undefined;
  readonly crashAfterJobId: string | undefined;
};

export const createFaultInjection = (spec: FaultSpec): FaultInjection => {
  const { description, crashAfterJobId } = spec;
  if (crashAfterJobId !== undefined) {
    return { description, afterCommit: (id) => (id === crashAfterJobId ? crash() : undefined) };
  }
  let remaining = spec.crashAfterCommits ?? 0;
  return {
    description,
    afterCommit: () => {
      if (remaining <= 0) return;
      remaining -= 1;
      crash();
    },
  };
};
