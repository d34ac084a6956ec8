import type { HttpChangeRecord } from '../clients/httpClients.js';
import { CHANGE_KINDS } from '../clients/changeMix.js';
import { checkResult, type CheckResult } from './checkResult.js';
import type { RunRecord } from './readRunRecord.js';

/**
 * A request finally refused (503, or any 4xx) was never applied: no audit entry carries its reason. And an acceptance
 * the api voided (it answered 503 without knowing whether the record committed) never executed.
 */
export const checkRefusedChanges = (records: readonly HttpChangeRecord[], run: RunRecord): CheckResult => {
  const refused = records.filter(
    (record) => record.kind !== CHANGE_KINDS.verify && record.final?.status !== null && record.final?.status !== undefined && record.final.status >= 400 && !record.final.gaveUp,
  );
  const violations: string[] = [];
  for (const record of refused) {
    const entries = run.changesByReason.get(record.reason) ?? [];
    if (entries.length > 0) {
      violations.push(`${record.id} ${record.kind} (${record.keyed ? 'keyed' : 'no key'}) answered ${record.final?.status} but applied as job ${entries[0]?.job_id} (audit ${entries.map((entry) => entry.id).join(', ')})`);
    }
  }
  const voided = run.acceptances.filter((row) => row.voided);
  for (const row of voided) {
    const executions = (run.changesByJobId.get(row.jobId)?.length ?? 0) + (run.verificationsByJobId.get(row.jobId) ?? 0);
    if (executions > 0) violations.push(`voided job ${row.jobId} executed ${executions} time(s)`);
  }
  return checkResult('refused-never-applied', 'every 503 (final answer) and every voided acceptance was never applied', refused.length + voided.length, violations);
};
