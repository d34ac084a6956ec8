import { checkResult, type CheckResult } from './checkResult.js';
import type { RunRecord } from './readRunRecord.js';

/**
 * No change applied twice: at most one change audit entry per job identity, and per request of this run (each
 * request's reason is unique to it: two entries with one reason are one request executed twice under two ids).
 */
export const checkNoDoubles = (run: RunRecord, runId: string): CheckResult => {
  const violations: string[] = [];
  for (const [jobId, entries] of run.changesByJobId) {
    if (entries.length > 1) violations.push(`job ${jobId}: ${entries.length} audit entries (${entries.map((entry) => entry.id).join(', ')})`);
  }
  const ours = `chaos ${runId} `;
  let requests = 0;
  for (const [reason, entries] of run.changesByReason) {
    if (!reason.startsWith(ours)) continue;
    requests += 1;
    if (entries.length > 1) violations.push(`${reason.slice(ours.length)}: executed ${entries.length} times, as jobs ${entries.map((entry) => entry.job_id).join(', ')}`);
  }
  return checkResult('no-job-applied-twice', 'at most one audit entry per job identity and per request', run.changesByJobId.size + requests, violations);
};
