import { FAULT_KINDS, type FaultRecord } from '../faults/faultKinds.js';
import { checkResult, type CheckResult } from './checkResult.js';
import type { RunRecord } from './readRunRecord.js';

/**
 * Every job PostgreSQL had accepted and not yet executed when Redis came back empty was executed afterwards (the
 * reconciler enqueued it again): settled as executed, with its audit entry or verification run.
 */
export const checkReconciledJobs = (faults: readonly FaultRecord[], run: RunRecord): CheckResult => {
  const atRisk = faults.filter((fault) => fault.kind === FAULT_KINDS.redisRestartEmpty).flatMap((fault) => fault.openAcceptances ?? []);
  const violations: string[] = [];
  for (const jobId of new Set(atRisk)) {
    const row = run.acceptancesByJobId.get(jobId);
    const executions = (run.changesByJobId.get(jobId)?.length ?? 0) + (run.verificationsByJobId.get(jobId) ?? 0);
    if (row?.voided === true) continue;
    if (row?.settledAs !== 'executed' || executions !== 1) {
      violations.push(`job ${jobId}, accepted before Redis lost everything: settled ${row?.settledAs ?? 'never'}, ${executions} executions`);
    }
  }
  return checkResult('redis-loss-reconciled', 'accepted jobs Redis lost (restarted empty) were all executed once afterwards', new Set(atRisk).size, violations);
};
