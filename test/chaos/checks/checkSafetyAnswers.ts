import type { HttpChangeRecord } from '../clients/httpClients.js';
import { isSafetyKind } from '../clients/changeMix.js';
import { answerOf } from './answerOf.js';
import { checkResult, type CheckResult } from './checkResult.js';
import type { RunRecord } from './readRunRecord.js';

/** Tolerance for comparing the audit entry's time (PostgreSQL's clock) with the client's (the same host's). */
const CLOCK_SLACK_MS = 5;

/**
 * An engage or disable answered 200 `completed` was applied before the answer: the answer's audit id names this
 * job's entry, of this action, written before the client had the answer.
 */
export const checkSafetyAnswers = (records: readonly HttpChangeRecord[], run: RunRecord): CheckResult => {
  const completed = records.filter((record) => isSafetyKind(record.kind) && record.final?.status === 200 && answerOf(record).status === 'completed');
  const byId = new Map(run.changes.map((entry) => [entry.id, entry]));
  const violations: string[] = [];
  for (const record of completed) {
    const answer = answerOf(record);
    const entry = answer.auditId === undefined ? undefined : byId.get(answer.auditId);
    if (entry === undefined) {
      violations.push(`${record.id} ${record.kind} answered 200 completed with audit id ${answer.auditId}, which is no change entry`);
    } else if (entry.job_id !== answer.jobId || entry.reason !== record.reason) {
      violations.push(`${record.id} ${record.kind} answered with audit entry ${entry.id}, which belongs to job ${entry.job_id}`);
    } else if (Date.parse(entry.created_at) > (record.final?.at ?? 0) + CLOCK_SLACK_MS) {
      violations.push(`${record.id} ${record.kind}: audit entry ${entry.id} written at ${entry.created_at}, after the answer`);
    }
  }
  return checkResult('safety-200-applied-before-answer', 'engages and disables answered 200 were applied before the answer', completed.length, violations);
};
