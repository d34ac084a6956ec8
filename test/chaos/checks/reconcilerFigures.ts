import { FAULT_KINDS, type FaultRecord } from '../faults/faultKinds.js';
import type { RunRecord } from './readRunRecord.js';

export type ReconcilerFigures = {
  /** Enqueues by the reconciler (the acceptance records' enqueue counts summed), and of how many jobs, per queue. */
  reenqueues: number;
  jobsReenqueued: number;
  byQueue: Record<string, { reenqueues: number; jobs: number }>;
  /** Per "Redis restarted empty": the accepted jobs only PostgreSQL still held, and when the last of them settled. */
  emptyRestarts: { at: number; atRisk: number; settled: number; lastSettledAfterMs: number | null }[];
};

/** What the reconciler did over the run, from the acceptance records. */
export const reconcilerFigures = (run: RunRecord, faults: readonly FaultRecord[]): ReconcilerFigures => {
  const byQueue: ReconcilerFigures['byQueue'] = {};
  let reenqueues = 0;
  let jobsReenqueued = 0;
  for (const row of run.acceptances) {
    if (row.enqueueCount === 0) continue;
    reenqueues += row.enqueueCount;
    jobsReenqueued += 1;
    const queue = (byQueue[row.queue] ??= { reenqueues: 0, jobs: 0 });
    queue.reenqueues += row.enqueueCount;
    queue.jobs += 1;
  }
  const emptyRestarts = faults
    .filter((fault) => fault.kind === FAULT_KINDS.redisRestartEmpty)
    .map((fault) => {
      const rows = (fault.openAcceptances ?? []).map((jobId) => run.acceptancesByJobId.get(jobId));
      const settledTimes = rows.flatMap((row) => (row?.settledAt === null || row?.settledAt === undefined ? [] : [row.settledAt]));
      return {
        at: fault.startedAt,
        atRisk: rows.length,
        settled: settledTimes.length,
        lastSettledAfterMs: settledTimes.length === 0 ? null : Math.max(0, Math.round(Math.max(...settledTimes) - fault.endedAt)),
      };
    });
  return { reenqueues, jobsReenqueued, byQueue, emptyRestarts };
};
