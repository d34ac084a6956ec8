import { describe, expect, it } from 'vitest';
import type { StateSnapshot } from '../../packages/contract/src/index.js';
import { checkAnsweredChanges } from './checks/checkAnsweredChanges.js';
import { checkNoDoubles } from './checks/checkNoDoubles.js';
import { checkPlainJobs } from './checks/checkPlainJobs.js';
import { checkReconciledJobs } from './checks/checkReconciledJobs.js';
import { checkRefusedChanges } from './checks/checkRefusedChanges.js';
import { checkSafetyAnswers } from './checks/checkSafetyAnswers.js';
import { checkStateReplay } from './checks/checkStateReplay.js';
import { engageLatency } from './checks/engageLatency.js';
import type { ChangeEntry, RunRecord } from './checks/readRunRecord.js';
import type { HttpChangeRecord } from './clients/httpClients.js';
import type { PlainJobRecord } from './clients/plainProducer.js';
import type { FaultRecord } from './faults/faultKinds.js';

/**
 * The checks of the fault run judge PostgreSQL's record against what the clients were told: each must flag the
 * violation it exists for (a check that cannot fail proves nothing), and pass a record that is right.
 */
const INITIAL: StateSnapshot = { go_live_enabled: false, kill_switch_engaged: true, live: false, version: '1.0.0', backend_complete: false, notes: null };
const ENGAGED_RELEASED: StateSnapshot = { ...INITIAL, kill_switch_engaged: false };

let nextId = 1;
const entry = (fields: { job_id: string; reason: string; action?: string; outcome?: 'applied' | 'unchanged' | 'rejected'; before?: StateSnapshot; after?: StateSnapshot; at?: number }): ChangeEntry => {
  nextId += 1;
  return {
    kind: 'change',
    id: nextId,
    job_id: fields.job_id,
    action: fields.action ?? 'kill_switch.engage',
    outcome: fields.outcome ?? 'unchanged',
    actor: 'chaos-operator',
    reason: fields.reason,
    before: fields.before ?? INITIAL,
    after: fields.after ?? INITIAL,
    unmet_conditions: [],
    request_id: null,
    created_at: new Date(fields.at ?? 1_000).toISOString(),
    prev_hash: null,
    hash: 'h',
    key_id: null,
    details: {},
  };
};

const runOf = (changes: ChangeEntry[], extra: Partial<RunRecord> = {}): RunRecord => {
  const group = (key: (e: ChangeEntry) => string | null) => {
    const map = new Map<string, ChangeEntry[]>();
    for (const change of changes) {
      const k = key(change);
      if (k !== null) map.set(k, [...(map.get(k) ?? []), change]);
    }
    return map;
  };
  return {
    changes,
    changesByJobId: group((e) => e.job_id),
    changesByReason: group((e) => e.reason),
    verificationsByJobId: new Map(),
    acceptances: [],
    acceptancesByJobId: new Map(),
    state: changes.at(-1)?.after ?? INITIAL,
    ...extra,
  };
};

const request = (fields: Partial<HttpChangeRecord> & { status: number | null; body?: unknown; at?: number }): HttpChangeRecord => ({
  id: fields.id ?? 'k1-1',
  kind: fields.kind ?? 'engage',
  keyed: fields.keyed ?? true,
  key: fields.key ?? 'key',
  reason: fields.reason ?? 'chaos run k1-1 engage',
  sentAt: fields.sentAt ?? 900,
  attempts: fields.attempts ?? 1,
  repeatedAfter: { noAnswer: 0, serverError: 0 },
  final: { status: fields.status, at: fields.at ?? 1_010, api: 'http://api', body: fields.body ?? null, gaveUp: false },
});

describe('fault-run checks', () => {
  it('a 2xx answer whose job has no audit entry, or another change’s, is a violation', () => {
    const ok = request({ status: 202, body: { jobId: 'j1', status: 'queued' }, reason: 'r1' });
    const missing = request({ id: 'k1-2', status: 202, body: { jobId: 'j2', status: 'queued' }, reason: 'r2' });
    const foreign = request({ id: 'k1-3', status: 202, body: { jobId: 'j3', status: 'queued' }, reason: 'r3' });
    const run = runOf([entry({ job_id: 'j1', reason: 'r1' }), entry({ job_id: 'j3', reason: 'someone else' })]);
    const result = checkAnsweredChanges([ok, missing, foreign], run);
    expect(result.checked).toBe(3);
    expect(result.violations).toEqual([expect.stringContaining('k1-2 engage answered 202 as job j2: 0 audit entries'), expect.stringContaining('k1-3')]);
    expect(checkAnsweredChanges([ok], run).passed).toBe(true);
  });

  it('an engage answered 200 must name its own audit entry, written before the answer', () => {
    const applied = entry({ job_id: 'j1', reason: 'r1', at: 1_000 });
    const run = runOf([applied]);
    const answer = (at: number, auditId = applied.id) => request({ status: 200, reason: 'r1', at, body: { jobId: 'j1', status: 'completed', result: { auditId } } });
    expect(checkSafetyAnswers([answer(1_010)], run).passed).toBe(true);
    expect(checkSafetyAnswers([answer(900)], run).violations).toEqual([expect.stringContaining('after the answer')]);
    expect(checkSafetyAnswers([answer(1_010, 999)], run).violations).toEqual([expect.stringContaining('which is no change entry')]);
  });

  it('a 503 that was applied anyway, or a voided acceptance that executed, is a violation', () => {
    const refused = request({ status: 503, keyed: false, key: null, reason: 'r1' });
    const run = runOf([entry({ job_id: 'x', reason: 'r1' }), entry({ job_id: 'void-1', reason: 'r9' })], {
      acceptances: [{ jobId: 'void-1', queue: 'governance', enqueueCount: 0, acceptedAt: 1, settledAt: null, settledAs: null, voided: true }],
    });
    expect(checkRefusedChanges([refused], run).violations).toEqual([expect.stringContaining('answered 503 but applied as job x'), 'voided job void-1 executed 1 time(s)']);
    expect(checkRefusedChanges([refused], runOf([])).passed).toBe(true);
  });

  it('one request executed under two job ids is applied twice', () => {
    const run = runOf([entry({ job_id: 'a', reason: 'chaos run k1-1 release' }), entry({ job_id: 'b', reason: 'chaos run k1-1 release' })]);
    expect(checkNoDoubles(run, 'run').violations).toEqual(['k1-1 release: executed 2 times, as jobs a, b']);
    expect(checkNoDoubles(run, 'another-run').passed).toBe(true);
  });

  it('plain jobs: executed once passes; missing is a violation unless Redis was restarted empty after the add', () => {
    const plain = (n: number, at: number): PlainJobRecord => ({ n, kind: 'release', queue: 'governance', reason: `p-${n}`, addedAt: at, ack: { jobId: String(n), timestamp: at, at }, error: undefined });
    const wipe: FaultRecord = { kind: 'redis-restart-empty', targets: ['redis'], startedAt: 5_000, endedAt: 5_500, detail: '' };
    const run = runOf([entry({ job_id: '1@1000', reason: 'p-1' })]);
    // p-4 was confirmed just after the kill began: Redis took it before it died, and lost it with the rest.
    const { check, outcomes } = checkPlainJobs([plain(1, 1_000), plain(2, 2_000), plain(3, 6_000), plain(4, 5_200)], run, [wipe]);
    expect(outcomes).toMatchObject({ acknowledged: 4, executedOnce: 1, lostWithRedis: { count: 2, byFault: [{ faultStartedAt: 5_000, count: 2 }] } });
    expect(check.violations).toEqual([expect.stringContaining('plain p-3 release confirmed as job 3@6000')]);
  });

  it('an accepted job Redis lost must be executed once afterwards', () => {
    const wipe: FaultRecord = { kind: 'redis-restart-empty', targets: ['redis'], startedAt: 1, endedAt: 2, detail: '', openAcceptances: ['a', 'b'] };
    const run = runOf([entry({ job_id: 'a', reason: 'r' })], {
      acceptancesByJobId: new Map([
        ['a', { jobId: 'a', queue: 'governance', enqueueCount: 1, acceptedAt: 1, settledAt: 3, settledAs: 'executed', voided: false }],
        ['b', { jobId: 'b', queue: 'governance', enqueueCount: 1, acceptedAt: 1, settledAt: null, settledAs: null, voided: false }],
      ]),
    });
    expect(checkReconciledJobs([wipe], run).violations).toEqual(['job b, accepted before Redis lost everything: settled never, 0 executions']);
  });

  it('the state must be the replay of the log, and each entry must start where the previous one left', () => {
    const released = entry({ job_id: 'r', reason: 'r', action: 'kill_switch.release', outcome: 'applied', before: INITIAL, after: ENGAGED_RELEASED });
    expect(checkStateReplay(runOf([released]), INITIAL).passed).toBe(true);
    expect(checkStateReplay(runOf([released], { state: INITIAL }), INITIAL).violations).toEqual([expect.stringContaining('replaying the log gives')]);
    const skipped = entry({ job_id: 's', reason: 's', outcome: 'unchanged', before: INITIAL, after: INITIAL });
    expect(checkStateReplay(runOf([released, skipped], { state: ENGAGED_RELEASED }), INITIAL).violations).toEqual([expect.stringContaining(`audit entry ${skipped.id}`)]);
  });

  it('engage latency: a queued engage counts from the database’s return when every worker had lost it too', () => {
    const cut: FaultRecord = { kind: 'database-cut', targets: ['api-1', 'api-2', 'worker-1', 'worker-2'], startedAt: 1_000, endedAt: 6_000, detail: '' };
    const queued = request({ id: 'k1-1', status: 202, sentAt: 2_000, at: 2_100, body: { jobId: 'q', status: 'queued' } });
    const applied = request({ id: 'k1-2', status: 200, sentAt: 10_000, at: 10_040, body: { jobId: 'a', status: 'completed' } });
    const run = runOf([entry({ job_id: 'q', reason: 'x', at: 6_300 })]);
    const latency = engageLatency([queued, applied], run, [cut], { afterWindowMs: 10_000, workerNames: ['worker-1', 'worker-2'] });
    expect(latency.afterOutage).toMatchObject({ count: 1, p50: 300 });
    expect(latency.rows.find((row) => row.phase === 'during database-cut')).toMatchObject({ count: 1, max: 300 });
    expect(latency.rows.find((row) => row.phase === 'after database-cut')).toMatchObject({ count: 1, max: 40 });
    expect(latency.rows.find((row) => row.phase === 'all engages')).toMatchObject({ count: 2 });
  });
});
