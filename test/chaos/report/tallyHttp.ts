import { CHANGE_KINDS, type ChangeKind } from '../clients/changeMix.js';
import type { HttpChangeRecord } from '../clients/httpClients.js';
import type { RunRecord } from '../checks/readRunRecord.js';
import type { ChaosResult, HttpTally } from './chaosResult.js';

const emptyTally = (): HttpTally => ({ requests: 0, ok200: 0, accepted202: 0, refused503: 0, other: 0, noAnswer: 0, gaveUp: 0 });

const count = (tally: HttpTally, record: HttpChangeRecord) => {
  tally.requests += 1;
  const final = record.final;
  if (final === undefined || final.gaveUp) tally.gaveUp += 1;
  else if (final.status === null) tally.noAnswer += 1;
  else if (final.status === 200) tally.ok200 += 1;
  else if (final.status === 202) tally.accepted202 += 1;
  else if (final.status === 503) tally.refused503 += 1;
  else tally.other += 1;
};

/** How the HTTP requests ended, per kind and per client type. */
export const tallyHttp = (records: readonly HttpChangeRecord[], run: RunRecord): ChaosResult['http'] => {
  const byKind = Object.fromEntries(Object.values(CHANGE_KINDS).map((kind) => [kind, emptyTally()])) as Record<ChangeKind, HttpTally>;
  const keyed = emptyTally();
  const unkeyed = emptyTally();
  const keyedRepeats = { noAnswer: 0, serverError: 0 };
  let unkeyedNoAnswerExecuted = 0;
  for (const record of records) {
    count(byKind[record.kind], record);
    count(record.keyed ? keyed : unkeyed, record);
    if (record.keyed) {
      keyedRepeats.noAnswer += record.repeatedAfter.noAnswer;
      keyedRepeats.serverError += record.repeatedAfter.serverError;
    } else if (record.final?.status === null && (run.changesByReason.get(record.reason)?.length ?? 0) > 0) {
      unkeyedNoAnswerExecuted += 1;
    }
  }
  return { byKind, keyed, unkeyed, unkeyedNoAnswerExecuted, keyedRepeats };
};
