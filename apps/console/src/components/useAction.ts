import { useState } from 'preact/hooks';
import { describeError } from '../api/ApiError.js';
import { followJob } from '../api/followJob.js';
import type { Accepted, JobView } from '../api/types.js';

/** Where a submitted change is: sent, queued/running, finished, waiting for approvals, or refused. */
export type ActionStatus =
  | { kind: 'idle' }
  | { kind: 'sending'; label: string }
  | { kind: 'following'; label: string; job: JobView | null; jobId: string }
  | { kind: 'done'; label: string; job: JobView }
  | { kind: 'pending_approval'; label: string; changeRequestId: string }
  | { kind: 'failed'; label: string; error: { code: string; message: string } };

/** Runs a write and follows its job to the end, so the operator sees "applied" or the reason it was refused. */
export const useAction = () => {
  const [status, setStatus] = useState<ActionStatus>({ kind: 'idle' });
  const run = async (label: string, send: () => Promise<Accepted>): Promise<boolean> => {
    setStatus({ kind: 'sending', label });
    try {
      const accepted = await send();
      if ('changeRequestId' in accepted) {
        setStatus({ kind: 'pending_approval', label, changeRequestId: accepted.changeRequestId });
        return true;
      }
      setStatus({ kind: 'following', label, job: null, jobId: accepted.jobId });
      const job = await followJob(accepted.jobId, (update) => setStatus({ kind: 'following', label, job: update, jobId: accepted.jobId }));
      setStatus({ kind: 'done', label, job });
      return true;
    } catch (error) {
      setStatus({ kind: 'failed', label, error: describeError(error) });
      return false;
    }
  };
  return { status, run };
};

const resultOutcome = (result: unknown): string | undefined =>
  typeof result === 'object' && result !== null && 'outcome' in result && typeof result.outcome === 'string' ? result.outcome : undefined;

/** One sentence for the status line under a form. */
export const describeStatus = (status: ActionStatus): { text: string; tone: 'info' | 'ok' | 'bad' } | null => {
  switch (status.kind) {
    case 'idle':
      return null;
    case 'sending':
      return { text: `${status.label}: sending…`, tone: 'info' };
    case 'following':
      return { text: `${status.label}: job ${status.jobId} is ${status.job?.state ?? 'queued'}…`, tone: 'info' };
    case 'pending_approval':
      return { text: `${status.label}: change request ${status.changeRequestId} waits for approval by another operator.`, tone: 'info' };
    case 'failed':
      return { text: `${status.label} failed: ${status.error.code} ${status.error.message}`, tone: 'bad' };
    case 'done': {
      const { job } = status;
      if (job.state === 'failed') return { text: `${status.label}: ${job.error?.code ?? 'FAILED'} ${job.error?.message ?? ''}`.trim(), tone: 'bad' };
      if (job.state !== 'completed') return { text: `${status.label}: job ${job.id} is still ${job.state}.`, tone: 'info' };
      const outcome = resultOutcome(job.result);
      if (outcome === 'rejected') return { text: `${status.label}: rejected by the state rules.`, tone: 'bad' };
      return { text: `${status.label}: ${outcome ?? 'done'}.`, tone: 'ok' };
    }
    default: {
      const unreachable: never = status;
      return unreachable;
    }
  }
};
