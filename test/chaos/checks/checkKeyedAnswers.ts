import type { HttpChangeRecord } from '../clients/httpClients.js';
import { checkResult, type CheckResult } from './checkResult.js';

/**
 * Every keyed request got a final answer (its repeats ended in something other than a 5xx or no answer), and no
 * request was refused with a 4xx: the clients only send valid requests, each key with one body.
 */
export const checkKeyedAnswers = (records: readonly HttpChangeRecord[]): CheckResult => {
  const violations: string[] = [];
  for (const record of records) {
    const final = record.final;
    if (final === undefined) violations.push(`${record.id} ${record.kind} never finished`);
    else if (final.gaveUp) violations.push(`${record.id} ${record.kind} (keyed) still unanswered after ${record.attempts} attempts: last ${final.status ?? 'no answer'} from ${final.api}`);
    else if (final.status !== null && final.status >= 400 && final.status < 500) {
      violations.push(`${record.id} ${record.kind} refused ${final.status}: ${JSON.stringify(final.body).slice(0, 300)}`);
    }
  }
  return checkResult('keyed-requests-answered', 'every keyed request was finally answered, and no request was refused 4xx', records.length, violations);
};
