import { useEffect, useRef, useState } from 'preact/hooks';
import { describeError } from '../api/ApiError.js';
import { followJob } from '../api/followJob.js';
import type { Accepted, JobView } from '../api/types.js';

/**
 * Where a submitted change is: sent, queued/running, finished, waiting for approvals, or refused. A finished status
 * carries `until`: the state version (the audit id of the newest applied change) it describes. Once the state moves
 * past it, the sentence is about a state that is gone and is cleared ("Enable go-live: applied." must not stay on
 * screen after an engage).
 */
export type ActionStatus =
  | { kind: 'idle' }
  | { kind: 'sending'; label: string }
  | { kind: 'following'; label: string; job: JobView | null; jobId: string }
  | { kind: 'done'; label: string; job: JobView; until: number }
  | { kind: 'pending_approval'; label: string; changeRequestId: string; until: number }
  | { kind: 'failed'; label: string; error: { code: string; message: string }; until: number };

/** The audit id of a change job's result: its own entry (applied, unchanged or rejected). */
const auditIdOf = (result: unknown): number | undefined =>
  typeof result === 'object' && result !== null && 'auditId' in result && typeof result.auditId === 'number' ? result.auditId : undefined;

/**
 * Runs a write and follows its job to the end, so the operator sees "applied" or the reason it was refused; clears
 * that sentence when the state moves on. `version` is the live state's version (null: none known yet).
 */
export const useAction = (version: number | null) => {
  const [status, setStatus] = useState<ActionStatus>({ kind: 'idle' });
  const current = useRef(version ?? 0);
  current.current = version ?? 0;

  useEffect(() => {
    if ('until' in status && (version ?? 0) > status.until) setStatus({ kind: 'idle' });
  }, [version, status]);

  const run = async (label: string, send: () => Promise<Accepted>): Promise<boolean> => {
    setStatus({ kind: 'sending', label });
    try {
      const accepted = await send();
      if ('changeRequestId' in accepted) {
        setStatus({ kind: 'pending_approval', label, changeRequestId: accepted.changeRequestId, until: current.current });
        return true;
      }
      setStatus({ kind: 'following', label, job: null, jobId: accepted.jobId });
      const job = await followJob(accepted.jobId, (update) => setStatus({ kind: 'following', label, job: update, jobId: accepted.jobId }));
      // A change's own entry may be newer than the state the stream has shown so far (its event can come later).
      setStatus({ kind: 'done', label, job, until: Math.max(current.current, auditIdOf(job.result) ?? 0) });
      return true;
    } catch (error) {
      setStatus({ kind: 'failed', label, error: describeError(error), until: current.current });
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
