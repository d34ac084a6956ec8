import { percentile, round } from '../../../bench/lib/stats.js';
import { CHANGE_KINDS } from '../clients/changeMix.js';
import type { HttpChangeRecord } from '../clients/httpClients.js';
import { ALL_FAULT_KINDS, FAULT_KINDS, type FaultRecord } from '../faults/faultKinds.js';
import { answerOf, isAnswered2xx } from './answerOf.js';
import type { RunRecord } from './readRunRecord.js';

/** Latency of the engages of one phase, in ms. */
export type LatencyRow = { phase: string; count: number; p50: number | null; p99: number | null; max: number | null };

type Sample = { sentAt: number; ms: number };

/** One of the slowest engages, for the report: which request, how it went, which phase it fell in. */
export type SlowEngage = { id: string; sentAt: number; ms: number; status: number; attempts: number; phase: string };

const SLOWEST_LISTED = 10;

const row = (phase: string, samples: readonly Sample[]): LatencyRow => {
  const values = samples.map((sample) => sample.ms);
  if (values.length === 0) return { phase, count: 0, p50: null, p99: null, max: null };
  return { phase, count: values.length, p50: round(percentile(values, 50), 1), p99: round(percentile(values, 99), 1), max: round(Math.max(...values), 1) };
};

/**
 * Engage latency, from the request to applied: to the 200 answer of an engage applied in the request (repeats of a
 * keyed request included), or, for one answered 202 (queued because its api could not reach PostgreSQL), to its
 * audit entry; such an engage is counted from the database's return when the cut had taken every worker's database
 * too (nothing could apply it before). Grouped by the phase its first attempt fell in: during a fault, in the
 * `afterWindowMs` after one, or with no fault near.
 */
export const engageLatency = (
  records: readonly HttpChangeRecord[],
  run: RunRecord,
  faults: readonly FaultRecord[],
  options: { afterWindowMs: number; workerNames: readonly string[] },
): { rows: LatencyRow[]; afterOutage: LatencyRow; slowest: SlowEngage[] } => {
  const samples = new Map<string, Sample[]>();
  const slow: SlowEngage[] = [];
  const afterOutage: Sample[] = [];
  const add = (phase: string, sample: Sample) => {
    const list = samples.get(phase);
    if (list === undefined) samples.set(phase, [sample]);
    else list.push(sample);
  };
  const allWorkersCut = (fault: FaultRecord) => fault.kind === FAULT_KINDS.databaseCut && options.workerNames.every((name) => fault.targets.includes(name));

  for (const record of records) {
    if (record.kind !== CHANGE_KINDS.engage || !isAnswered2xx(record) || record.final === undefined) continue;
    const answer = answerOf(record);
    let appliedAt: number;
    let from = record.sentAt;
    if (answer.status === 'completed') {
      appliedAt = record.final.at;
    } else {
      const entry = answer.jobId === undefined ? undefined : run.changesByJobId.get(answer.jobId)?.[0];
      if (entry === undefined) continue;
      appliedAt = Date.parse(entry.created_at);
      const outage = faults.find((fault) => allWorkersCut(fault) && fault.startedAt <= (record.final?.at ?? 0) && (record.final?.at ?? 0) <= fault.endedAt);
      if (outage !== undefined) {
        from = Math.max(from, outage.endedAt);
        afterOutage.push({ sentAt: record.sentAt, ms: Math.max(0, appliedAt - from) });
      }
    }
    const sample = { sentAt: record.sentAt, ms: Math.max(0, appliedAt - from) };
    add('all engages', sample);
    const during = faults.find((fault) => fault.startedAt <= record.sentAt && record.sentAt <= fault.endedAt);
    const after = faults.find((fault) => fault.endedAt < record.sentAt && record.sentAt <= fault.endedAt + options.afterWindowMs);
    const phase = during !== undefined ? `during ${during.kind}` : after !== undefined ? `after ${after.kind}` : 'no fault';
    add(phase, sample);
    slow.push({ id: record.id, sentAt: record.sentAt, ms: sample.ms, status: record.final.status ?? 0, attempts: record.attempts, phase });
  }
  const phases = ['all engages', 'no fault', ...ALL_FAULT_KINDS.flatMap((kind) => [`during ${kind}`, `after ${kind}`])];
  return {
    rows: phases.map((phase) => row(phase, samples.get(phase) ?? [])),
    afterOutage: row('queued during a database outage of every worker, from its return', afterOutage),
    slowest: slow.sort((a, b) => b.ms - a.ms).slice(0, SLOWEST_LISTED),
  };
};
