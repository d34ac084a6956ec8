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
  /** Called by the go-live-change processor right after a (non-replayed) commit. */
  afterCommit: (jobId: string) => void;
};

const crash = (): never => {
  process.kill(process.pid, 'SIGKILL');
  // SIGKILL is delivered asynchronously; never let the job continue to its ack meanwhile.
  throw new Error('unreachable: the process was killed');
};

export const parseFaultInjection = (spec: string): FaultInjection | undefined => {
  const match = /^crash-after-commit:(?:(\d+)|job=(.+))$/.exec(spec.trim());
  if (match === null) return undefined;
  const [, count, jobId] = match;
  if (jobId !== undefined) {
    return { description: spec, afterCommit: (id) => (id === jobId ? crash() : undefined) };
  }
  let remaining = Number(count);
  return {
    description: spec,
    afterCommit: () => {
      if (remaining <= 0) return;
      remaining -= 1;
      crash();
    },
  };
};
