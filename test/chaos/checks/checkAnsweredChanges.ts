import type { HttpChangeRecord } from '../clients/httpClients.js';
import { CHANGE_KINDS } from '../clients/changeMix.js';
import { answerOf, isAnswered2xx } from './answerOf.js';
import { checkResult, type CheckResult } from './checkResult.js';
import type { RunRecord } from './readRunRecord.js';

/**
 * Every request answered 2xx (for a keyed one, its final answer) was executed exactly once: one change audit entry
 * under the answered job id, carrying the request's reason (a verification: one verification run under that id).
 */
export const checkAnsweredChanges = (records: readonly HttpChangeRecord[], run: RunRecord): CheckResult => {
  const answered = records.filter(isAnswered2xx);
  const violations: string[] = [];
  for (const record of answered) {
    const { jobId } = answerOf(record);
    if (jobId === undefined) {
      violations.push(`${record.id} (${record.kind}) answered ${record.final?.status} without a job id`);
      continue;
    }
    if (record.kind === CHANGE_KINDS.verify) {
      const runs = run.verificationsByJobId.get(jobId) ?? 0;
      if (runs !== 1) violations.push(`${record.id} verify answered ${record.final?.status} as job ${jobId}: ${runs} verification runs`);
      continue;
    }
    const entries = run.changesByJobId.get(jobId) ?? [];
    if (entries.length !== 1) {
      violations.push(`${record.id} ${record.kind} answered ${record.final?.status} as job ${jobId}: ${entries.length} audit entries`);
    } else if (entries[0]?.reason !== record.reason) {
      violations.push(`${record.id} ${record.kind} answered as job ${jobId}, whose audit entry ${entries[0]?.id} is another change's (${JSON.stringify(entries[0]?.reason)})`);
    }
  }
  return checkResult('answered-2xx-executed-once', 'every change answered 2xx was executed exactly once (one audit entry per job id)', answered.length, violations);
};
