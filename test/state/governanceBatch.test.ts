import { describe, expect, it } from 'vitest';
import { DEVELOPMENT_AUDIT_KEY, applyGovernanceBatch, applyGovernanceChange, createAuditKeyring, verifyAuditChain, insertVerificationRun, listAuditEntriesInOrder, readGovernanceRows, snapshotOf, sql, type DatabasePool, type GovernanceChangeRequest } from '../../packages/core/src/index.js';
import { GOVERNANCE_ACTION_VALUES, type GoLiveChangePayload } from '../../packages/contract/src/index.js';
import { createTestDatabase, dropTestDatabase, useTestDatabase, type TestDatabase } from '../helpers/database.js';

const HEAD = 'head-under-test';
const KEYRING = createAuditKeyring([DEVELOPMENT_AUDIT_KEY]);
const OPTIONS = { keyring: KEYRING, migrationHead: HEAD };

/** A small deterministic PRNG (mulberry32): a failing seed reproduces. */
const prng = (seed: number) => {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
};

const randomPayload = (random: () => number, n: number): GoLiveChangePayload => {
  const action = GOVERNANCE_ACTION_VALUES[Math.floor(random() * GOVERNANCE_ACTION_VALUES.length)]!;
  const base = { actor: `ops:${n % 3}`, reason: `reason ${n}`, requestId: `req-${n}` };
  if (action === 'metadata.update') {
    return { ...base, action, metadata: random() < 0.5 ? { backend_complete: random() < 0.7 } : { version: `1.${n}.0`, notes: `n${n}` } };
  }
  return { ...base, action };
};

/** Random changes: creation times jittered (so some releases are older than later engages), some redeliveries. */
const randomRequests = (seed: number, count: number): GovernanceChangeRequest[] => {
  const random = prng(seed);
  const requests: GovernanceChangeRequest[] = [];
  for (let n = 0; n < count; n += 1) {
    const earlier = requests[Math.floor(random() * requests.length)];
    if (earlier !== undefined && random() < 0.08) {
      requests.push(earlier);
      continue;
    }
    requests.push({
      jobId: random() < 0.1 ? String(n) : `job-${seed}-${n}`,
      jobCreatedAt: 1_700_000_000_000 + n * 10 + Math.floor(random() * 60) - 30,
      payload: randomPayload(random, n),
    });
  }
  return requests;
};

/** Splits into batches of random sizes, each ordered as the batch applier orders it (safety first, then arrival). */
const randomBatches = (seed: number, requests: readonly GovernanceChangeRequest[]): GovernanceChangeRequest[][] => {
  const random = prng(seed * 7 + 1);
  const batches: GovernanceChangeRequest[][] = [];
  for (let i = 0; i < requests.length; ) {
    const size = 1 + Math.floor(random() * 20);
    batches.push(requests.slice(i, i + size));
    i += size;
  }
  return batches;
};

const isSafety = (r: GovernanceChangeRequest) => r.payload.action === 'kill_switch.engage' || r.payload.action === 'go_live.disable';
/** The positions of a batch in the order the applier decides them: safety actions first, then arrival order. */
const safetyFirst = (batch: readonly GovernanceChangeRequest[]) => {
  const positions = batch.map((_, i) => i);
  return [...positions.filter((i) => isSafety(batch[i]!)), ...positions.filter((i) => !isSafety(batch[i]!))];
};

const stateOf = async (pool: DatabasePool) => {
  const rows = await readGovernanceRows(pool);
  return {
    snapshot: snapshotOf(rows!),
    watermarks: rows!.watermarks,
    changedBy: rows!.goLive.changed_by,
    reason: rows!.goLive.reason,
    completedAtSet: rows!.metadata.completed_at !== null,
  };
};

const auditOf = async (pool: DatabasePool) =>
  (await listAuditEntriesInOrder(pool)).map(({ created_at: _c, hash: _h, prev_hash: _p, ...entry }) => entry);

const database = useTestDatabase();

describe('applyGovernanceBatch', () => {
  it.each([1, 2, 3, 4, 5, 6])('seed %i: batches give the same states, outcomes and audit entries as one change at a time', async (seed) => {
    const requests = randomRequests(seed, 160);
    const batches = randomBatches(seed, requests);
    const one: TestDatabase = await createTestDatabase(`one-by-one-${seed}`, { poolSize: 2 });
    const batched: TestDatabase = await createTestDatabase(`batched-${seed}`, { poolSize: 2 });
    try {
      if (seed % 2 === 0) {
        for (const db of [one, batched]) {
          const run = { jobId: null, release: 'r', migrationHead: HEAD, actor: 'ops', startedAt: new Date(), finishedAt: new Date(), passed: true, checks: [] };
          await insertVerificationRun(db.pool, run);
        }
      }
      const sequential: unknown[] = [];
      const grouped: unknown[] = [];
      for (const batch of batches) {
        for (const i of safetyFirst(batch)) sequential.push(await applyGovernanceChange(one.pool, batch[i]!, OPTIONS));
        const outcomes = await applyGovernanceBatch(batched.pool, batch, OPTIONS);
        for (const i of safetyFirst(batch)) {
          const outcome = outcomes[i]!;
          expect(outcome.ok).toBe(true);
          if (outcome.ok) grouped.push(outcome.execution);
        }
      }
      expect(grouped).toEqual(sequential);
      expect(await stateOf(batched.pool)).toEqual(await stateOf(one.pool));
      const audit = await auditOf(batched.pool);
      expect(audit).toEqual(await auditOf(one.pool));
      expect(audit.some((entry) => entry.unmet_conditions.includes('not_superseded'))).toBe(true);
      expect((await verifyAuditChain(batched.pool, KEYRING, { mode: 'full' })).intact).toBe(true);
    } finally {
      await dropTestDatabase(one, false);
      await dropTestDatabase(batched, false);
    }
  });

  it('applies an engage queued after 500 releases first; the older releases are superseded', async () => {
    const { pool } = database.current;
    const releases: GovernanceChangeRequest[] = Array.from({ length: 500 }, (_, n) => ({
      jobId: `release-${n}`,
      jobCreatedAt: 1_790_000_000_000 + n,
      payload: { action: 'kill_switch.release', actor: 'ops:a', reason: `release ${n}` },
    }));
    const engage: GovernanceChangeRequest = {
      jobId: 'engage-after-500',
      jobCreatedAt: 1_790_000_001_000,
      payload: { action: 'kill_switch.engage', actor: 'ops:b', reason: 'incident' },
    };
    const outcomes = await applyGovernanceBatch(pool, [...releases, engage], OPTIONS);
    const results = outcomes.map((o) => (o.ok ? o.execution.result : undefined));
    const engaged = results.at(-1)!;
    expect(results.every((r) => r !== undefined)).toBe(true);
    expect(Math.max(...results.slice(0, 500).map((r) => r!.auditId))).toBeGreaterThan(engaged.auditId);
    expect(results.slice(0, 500).every((r) => r!.outcome === 'rejected' && r!.unmet.includes('not_superseded'))).toBe(true);
    expect((await stateOf(pool)).snapshot.kill_switch_engaged).toBe(true);
    // A release created after the engage is a newer intent and applies.
    const [later] = await applyGovernanceBatch(
      pool,
      [{ jobId: 'release-after', jobCreatedAt: 1_790_000_002_000, payload: { action: 'kill_switch.release', actor: 'ops:a', reason: 'resolved' } }],
      OPTIONS,
    );
    expect(later).toMatchObject({ ok: true, execution: { result: { outcome: 'applied' } } });
    await applyGovernanceChange(pool, { ...engage, jobId: 'engage-again', jobCreatedAt: 1_790_000_003_000 }, OPTIONS);
  });

  it('fails a poisoned member alone: a trigger raising for one value rolls back nothing of its neighbours', async () => {
    const { pool } = database.current;
    await pool.query(sql.unsafe`
      CREATE FUNCTION public.test_poison() RETURNS trigger LANGUAGE plpgsql AS $$
      BEGIN
        IF NEW.reason = 'poison' THEN RAISE EXCEPTION 'poisoned change'; END IF;
        RETURN NEW;
      END $$`);
    await pool.query(sql.unsafe`
      CREATE TRIGGER test_poison BEFORE INSERT ON public.governance_executed_jobs
      FOR EACH ROW EXECUTE FUNCTION public.test_poison()`);
    // The executed record carries no reason column: the trigger reads it from the result of the audit row instead.
    await pool.query(sql.unsafe`
      CREATE OR REPLACE FUNCTION public.test_poison() RETURNS trigger LANGUAGE plpgsql AS $$
      BEGIN
        IF EXISTS (SELECT 1 FROM public.governance_audit_log a WHERE a.job_id = NEW.job_id AND a.reason = 'poison') THEN
          RAISE EXCEPTION 'poisoned change';
        END IF;
        RETURN NEW;
      END $$`);
    try {
      const auditBefore = (await listAuditEntriesInOrder(pool)).length;
      const members: GovernanceChangeRequest[] = ['before', 'poison', 'after'].map((reason, n) => ({
        jobId: `poison-test-${n}`,
        jobCreatedAt: 1_900_000_000_000 + n,
        payload: { action: 'metadata.update', actor: 'ops:a', reason, metadata: { notes: reason } },
      }));
      const nul: GovernanceChangeRequest = {
        jobId: 'nul-member',
        payload: { action: 'kill_switch.engage', actor: 'ops:a', reason: 'bad\u0000text' },
      };
      const outcomes = await applyGovernanceBatch(pool, [...members, nul], OPTIONS);
      expect(outcomes.map((o) => o.ok)).toEqual([true, false, true, false]);
      expect(outcomes[3]).toMatchObject({ ok: false, error: { code: 'INVALID_PAYLOAD' } });
      const audit = await listAuditEntriesInOrder(pool);
      expect(audit.slice(auditBefore).map((e) => e.reason)).toEqual(['before', 'after']);
      expect((await stateOf(pool)).snapshot.notes).toBe('after');
      expect((await verifyAuditChain(pool, KEYRING, { mode: 'full' })).intact).toBe(true);
    } finally {
      await pool.query(sql.unsafe`DROP TRIGGER test_poison ON public.governance_executed_jobs`);
      await pool.query(sql.unsafe`DROP FUNCTION public.test_poison()`);
    }
  });
});
