import { changeIdentity } from '../../../packages/contract/src/index.js';
import type { PlainJobRecord } from '../clients/plainProducer.js';
import { FAULT_KINDS, type FaultRecord } from '../faults/faultKinds.js';
import { checkResult, type CheckResult } from './checkResult.js';
import type { RunRecord } from './readRunRecord.js';

/** What became of the plain producer's jobs. */
export type PlainJobOutcomes = {
  /** Adds Redis confirmed. */
  acknowledged: number;
  /** Of those, executed once (applied, unchanged, or finally rejected: one audit entry each). */
  executedOnce: number;
  /**
   * Confirmed adds Redis lost when it was restarted empty before any worker executed them: a plain producer's job
   * exists only in Redis, so PostgreSQL has no trace of them. Per fault, by its start time.
   */
  lostWithRedis: { count: number; byFault: { faultStartedAt: number; count: number }[]; examples: string[] };
  /** Adds that failed or were not confirmed (Redis away): the producer knows they may not exist. */
  unacknowledged: number;
  /** Of those, executed anyway (the add reached Redis before the answer was lost). */
  unacknowledgedExecuted: number;
};

/**
 * Every job the plain producer added (confirmed by Redis) was executed once: one change audit entry under its
 * identity (`<counter id>@<creation ms>`), with its reason. A confirmed job with no entry is a violation unless Redis
 * was restarted empty after the add was confirmed (or while): those are counted apart, never hidden.
 */
export const checkPlainJobs = (
  records: readonly PlainJobRecord[],
  run: RunRecord,
  faults: readonly FaultRecord[],
): { check: CheckResult; outcomes: PlainJobOutcomes } => {
  const wipes = faults.filter((fault) => fault.kind === FAULT_KINDS.redisRestartEmpty).sort((a, b) => a.startedAt - b.startedAt);
  const violations: string[] = [];
  const lostByFault = new Map<number, number>();
  const lostExamples: string[] = [];
  let executedOnce = 0;
  let unacknowledgedExecuted = 0;
  for (const record of records) {
    if (record.ack === undefined) {
      if ((run.changesByReason.get(record.reason)?.length ?? 0) > 0) unacknowledgedExecuted += 1;
      continue;
    }
    const identity = changeIdentity(record.ack.jobId, record.ack.timestamp);
    const entries = run.changesByJobId.get(identity) ?? [];
    if (entries.length === 1 && entries[0]?.reason === record.reason) {
      executedOnce += 1;
      continue;
    }
    if (entries.length === 0) {
      // The first wipe that ended after Redis confirmed the add (a confirmation can arrive just after the kill).
      const wipe = wipes.find((fault) => fault.endedAt >= (record.ack?.at ?? 0));
      if (wipe !== undefined && (run.changesByReason.get(record.reason)?.length ?? 0) === 0) {
        lostByFault.set(wipe.startedAt, (lostByFault.get(wipe.startedAt) ?? 0) + 1);
        if (lostExamples.length < 5) lostExamples.push(`p-${record.n} ${record.kind} (job ${identity})`);
        continue;
      }
      violations.push(`plain p-${record.n} ${record.kind} confirmed as job ${identity} at ${new Date(record.ack.at).toISOString()}: never executed, and Redis was not restarted empty after it`);
    } else {
      violations.push(`plain p-${record.n} ${record.kind} job ${identity}: ${entries.length} audit entries (${entries.map((entry) => `${entry.id}: ${entry.reason}`).join('; ')})`);
    }
  }
  const acknowledged = records.filter((record) => record.ack !== undefined).length;
  const lostCount = [...lostByFault.values()].reduce((sum, n) => sum + n, 0);
  return {
    check: checkResult(
      'plain-jobs-executed-once',
      'every confirmed plain job completed or was finally rejected, with exactly one audit entry (except those Redis lost, counted apart)',
      acknowledged,
      violations,
    ),
    outcomes: {
      acknowledged,
      executedOnce,
      lostWithRedis: { count: lostCount, byFault: [...lostByFault].map(([faultStartedAt, count]) => ({ faultStartedAt, count })), examples: lostExamples },
      unacknowledged: records.length - acknowledged,
      unacknowledgedExecuted,
    },
  };
};
