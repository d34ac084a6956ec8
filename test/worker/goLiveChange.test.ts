import { describe, expect, it } from 'vitest';
import { listAuditEntriesInOrder, sql } from '../../packages/core/src/index.js';
import { JOB_NAMES, PRIORITIES, QUEUES, type ChangeResult, type GoLiveChangePayload } from '../../packages/contract/src/index.js';
import { waitFor } from '../helpers/waitFor.js';
import {
  auditCount,
  currentSnapshot,
  expectAuditReplaysToState,
  startInProcessWorker,
  useWorkerFixture,
  waitForGovernanceJobs,
  waitForJob,
} from './support/workerHarness.js';

const fixture = useWorkerFixture('golive');

const actor = 'ops:alice';
const change = (payload: Omit<GoLiveChangePayload, 'actor'> & { actor?: string }) =>
  fixture.current.producer.change({ actor, ...payload } as GoLiveChangePayload);

const auditFor = async (jobId: string) =>
  (await listAuditEntriesInOrder(fixture.current.database.pool)).filter((entry) => entry.job_id === jobId);

const goLiveRow = () =>
  fixture.current.database.pool.one(sql.unsafe`SELECT go_live_enabled, kill_switch_engaged, changed_by, reason FROM public.go_live_state WHERE id = 1`);

/** Runs one change to its end and returns how the job ended plus its single audit entry. */
const run = async (payload: Omit<GoLiveChangePayload, 'actor'>) => {
  const jobId = await change(payload);
  const outcome = await waitForJob(fixture.current.producer, jobId);
  const audit = await auditFor(jobId);
  expect(audit, `one audit entry for job ${jobId}`).toHaveLength(1);
  return { jobId, ...outcome, audit: audit[0]! };
};

const verifyNow = async () => {
  const job = await fixture.current.producer.queues.enqueue(JOB_NAMES.migrationVerify, { actor: 'ops:alice' });
  const outcome = await waitForJob(fixture.current.producer, job.id!);
  expect(outcome.state).toBe('completed');
  expect((outcome.returnvalue as { passed: boolean }).passed).toBe(true);
};

describe('go-live-change jobs', () => {
  it('applies every action through BullMQ, setting changed_by/reason and writing one audit row per job', async () => {
    const { database, prefix } = fixture.current;
    const initial = await currentSnapshot(database.pool);
    expect(initial).toMatchObject({ go_live_enabled: false, kill_switch_engaged: true, live: false, backend_complete: false });
    const worker = await startInProcessWorker(database, prefix);

    const release = await run({ action: 'kill_switch.release', reason: 'release for launch' });
    expect(release.state).toBe('completed');
    expect(release.returnvalue).toMatchObject({ outcome: 'applied', action: 'kill_switch.release', auditId: release.audit.id });
    expect(await goLiveRow()).toMatchObject({ kill_switch_engaged: false, changed_by: actor, reason: 'release for launch' });
    expect(release.audit).toMatchObject({ outcome: 'applied', actor, reason: 'release for launch', unmet_conditions: [] });
    expect(release.audit.before.kill_switch_engaged).toBe(true);
    expect(release.audit.after.kill_switch_engaged).toBe(false);

    const again = await run({ action: 'kill_switch.release', reason: 'release twice' });
    expect(again.state).toBe('completed');
    expect(again.audit.outcome).toBe('unchanged');
    expect(await goLiveRow()).toMatchObject({ reason: 'release for launch' });

    const metadata = await run({ action: 'metadata.update', reason: 'backend done', metadata: { version: '2.0.0', backend_complete: true, notes: 'ready' } } as never);
    expect(metadata.state).toBe('completed');
    expect(metadata.audit.after).toMatchObject({ version: '2.0.0', backend_complete: true, notes: 'ready' });
    const metadataRow = (await database.pool.one(
      sql.unsafe`SELECT version, backend_complete, notes, completed_at FROM public.system_metadata WHERE id = 1`,
    )) as { completed_at: string | null };
    expect(metadataRow).toMatchObject({ version: '2.0.0', backend_complete: true, notes: 'ready' });
    expect(metadataRow.completed_at).not.toBeNull();

    await verifyNow();
    const enable = await run({ action: 'go_live.enable', reason: 'launch' });
    expect(enable.state).toBe('completed');
    expect(enable.audit.after.live).toBe(true);
    expect(await goLiveRow()).toMatchObject({ go_live_enabled: true, kill_switch_engaged: false, reason: 'launch' });

    const engage = await run({ action: 'kill_switch.engage', reason: 'incident' });
    expect(engage.audit).toMatchObject({ outcome: 'applied' });
    expect(engage.audit.after).toMatchObject({ go_live_enabled: true, kill_switch_engaged: true, live: false });

    const disable = await run({ action: 'go_live.disable', reason: 'roll back' });
    expect(disable.audit).toMatchObject({ outcome: 'applied' });
    expect(await goLiveRow()).toMatchObject({ go_live_enabled: false, kill_switch_engaged: true, changed_by: actor, reason: 'roll back' });

    await expectAuditReplaysToState(database.pool, initial);
    await worker.close();
  });

  it('rejects go-live enable naming each unmet precondition, without retry, then accepts it once all hold', async () => {
    const { database, prefix } = fixture.current;
    const worker = await startInProcessWorker(database, prefix);

    const expectRejected = async (unmet: string[]) => {
      const stateBefore = await currentSnapshot(database.pool);
      const rejected = await run({ action: 'go_live.enable', reason: `try with ${unmet.join('+')} unmet` });
      expect(rejected.state).toBe('failed');
      expect(rejected.attemptsMade).toBe(1);
      expect(rejected.failure).toMatchObject({ code: 'PRECONDITION_FAILED', final: true });
      for (const condition of unmet) expect(rejected.failure?.message).toContain(condition);
      expect(rejected.audit).toMatchObject({ outcome: 'rejected', unmet_conditions: unmet, action: 'go_live.enable' });
      expect(await currentSnapshot(database.pool)).toEqual(stateBefore);
    };

    // The startup verification ran already (for the head): wait for it, then remove it to start from nothing.
    await waitFor(async () => (await database.pool.oneFirst(sql.unsafe`SELECT count(*)::int FROM public.verification_runs`)) === 1);
    await database.pool.query(sql.unsafe`DELETE FROM public.verification_runs`);
    await expectRejected(['kill_switch_released', 'backend_complete', 'verification_passed']);

    await run({ action: 'kill_switch.release', reason: 'r' });
    await run({ action: 'metadata.update', reason: 'm', metadata: { backend_complete: true } } as never);
    await expectRejected(['verification_passed']);

    await verifyNow();
    await run({ action: 'kill_switch.engage', reason: 'e' });
    await expectRejected(['kill_switch_released']);

    await run({ action: 'kill_switch.release', reason: 'r2' });
    await run({ action: 'metadata.update', reason: 'm2', metadata: { backend_complete: false } } as never);
    await expectRejected(['backend_complete']);

    // A failed verification for the head counts as no passed one.
    await run({ action: 'metadata.update', reason: 'm3', metadata: { backend_complete: true } } as never);
    await database.pool.query(sql.unsafe`
      INSERT INTO public.verification_runs (job_id, release, migration_head, actor, started_at, finished_at, passed, checks)
      VALUES ('manual-failed', 'r', ${worker.migrationHead}, 'ops', now(), now(), false, '[]')`);
    await expectRejected(['verification_passed']);

    await verifyNow();
    const accepted = await run({ action: 'go_live.enable', reason: 'all preconditions hold' });
    expect(accepted.state).toBe('completed');
    expect(accepted.attemptsMade).toBe(1);
    expect(accepted.returnvalue).toMatchObject({ outcome: 'applied', unmet: [] });
    expect(await currentSnapshot(database.pool)).toMatchObject({ go_live_enabled: true, kill_switch_engaged: false, live: true });
    await worker.close();
  });

  it('fails an invalid payload at once with INVALID_PAYLOAD, leaving state and audit log untouched', async () => {
    const { database, prefix, producer } = fixture.current;
    const worker = await startInProcessWorker(database, prefix);
    const before = await currentSnapshot(database.pool);
    const queue = producer.queues.byName[QUEUES.governance];
    const options = { attempts: 8, backoff: { type: 'exponential', delay: 250 }, priority: PRIORITIES.normal };
    const invalid: Record<string, unknown>[] = [
      { action: 'kill_switch.release', actor: 'ops', reason: '' },
      { action: 'go_live.explode', actor: 'ops', reason: 'x' },
      { action: 'kill_switch.release', actor: 'ops', reason: 'x', changed_by: 'mallory' },
      { action: 'metadata.update', actor: 'ops', reason: 'x', metadata: {} },
      { action: 'kill_switch.release', reason: 'no actor' },
    ];
    const ids = await Promise.all(invalid.map(async (data, i) => (await queue.add(JOB_NAMES.goLiveChange, data, { ...options, jobId: `invalid-${i}` })).id!));
    const wrongName = (await queue.add('not-a-job', { action: 'kill_switch.release', actor: 'ops', reason: 'x' }, { ...options, jobId: 'wrong-name' })).id!;

    for (const id of [...ids, wrongName]) {
      const outcome = await waitForJob(producer, id);
      expect(outcome.state, id).toBe('failed');
      expect(outcome.attemptsMade, id).toBe(1);
      expect(outcome.failure, id).toMatchObject({ code: 'INVALID_PAYLOAD', final: true });
    }
    const reason = (await waitForJob(producer, 'invalid-0')).failure?.message;
    expect(reason).toContain('reason');
    expect(await auditCount(database.pool)).toBe(0);
    expect(await currentSnapshot(database.pool)).toEqual(before);
    await worker.close();
  });

  it('survives a job that fails inside its transaction: nothing of it is written, 100 jobs succeed, and it succeeds on retry', async () => {
    const { database, prefix, producer } = fixture.current;
    // A test hook inside the database: the audit insert of a change whose reason is 'poison' raises mid-transaction
    // (after the row lock and the state read), which no payload can do by itself. On the audit log, not on
    // go_live_state: a group-committed batch writes row 1 once with its final values, so a trigger there sees only
    // the batch's last change.
    await database.pool.query(sql.unsafe`
      CREATE FUNCTION public.test_poison() RETURNS trigger LANGUAGE plpgsql AS $$
      BEGIN
        IF NEW.reason = 'poison' THEN RAISE EXCEPTION 'poisoned change'; END IF;
        RETURN NEW;
      END $$`);
    await database.pool.query(sql.unsafe`
      CREATE TRIGGER test_poison BEFORE INSERT ON public.governance_audit_log FOR EACH ROW EXECUTE FUNCTION public.test_poison()`);
    const initial = await currentSnapshot(database.pool);
    const worker = await startInProcessWorker(database, prefix);

    const poisoned = await change({ action: 'kill_switch.release', reason: 'poison' });
    await waitFor(async () => ((await producer.queues.findJob(poisoned))?.attemptsMade ?? 0) >= 1, { description: 'the poisoned job to fail once' });
    expect(await (await producer.queues.findJob(poisoned))!.getState()).toMatch(/delayed|waiting|prioritized|active/);
    expect(await auditFor(poisoned)).toHaveLength(0);

    const ids = await Promise.all(
      Array.from({ length: 100 }, (_, i) =>
        change(i % 2 === 0 ? { action: 'metadata.update', reason: `ok ${i}`, metadata: { notes: `n${i}` } } as never : { action: 'go_live.disable', reason: `ok ${i}` }),
      ),
    );
    for (const id of ids) expect((await waitForJob(producer, id)).state).toBe('completed');
    expect(await auditCount(database.pool)).toBe(100);

    await database.pool.query(sql.unsafe`DROP TRIGGER test_poison ON public.governance_audit_log`);
    const healed = await waitForJob(producer, poisoned, 20_000);
    expect(healed.state).toBe('completed');
    expect(healed.attemptsMade).toBeGreaterThanOrEqual(1);
    expect((healed.returnvalue as ChangeResult).outcome).toBe('applied');
    expect(await auditFor(poisoned)).toHaveLength(1);
    await expectAuditReplaysToState(database.pool, initial);
    await worker.close();
  });

  it('takes a kill-switch engage posted after a backlog of enables and releases ahead of most of it', async () => {
    const { database, prefix, producer } = fixture.current;
    // Start released, so that the engage changes something and the releases after it undo it.
    await database.pool.query(sql.unsafe`UPDATE public.go_live_state SET kill_switch_engaged = false WHERE id = 1`);
    const backlog = 300;
    await Promise.all(
      Array.from({ length: backlog }, (_, i) =>
        change(i % 2 === 0 ? { action: 'go_live.enable', reason: `backlog ${i}` } : { action: 'kill_switch.release', reason: `backlog ${i}` }),
      ),
    );
    const engage = await change({ action: 'kill_switch.engage', reason: 'emergency' });
    const worker = await startInProcessWorker(database, prefix, { env: { WORKER_CONCURRENCY: '5' } });
    await waitForGovernanceJobs(producer, backlog + 1);

    // The direct UPDATE above is an outside write (an event entry); the changes are what this test orders.
    const entries = (await listAuditEntriesInOrder(database.pool)).filter((entry) => entry.kind === 'change');
    expect(entries).toHaveLength(backlog + 1);
    const position = entries.findIndex((entry) => entry.job_id === engage);
    // Strict priority would put it first; concurrency lets a few jobs fetched in the same instant go before it.
    expect(position).toBeGreaterThanOrEqual(0);
    expect(position).toBeLessThan(20);
    expect(entries[position]).toMatchObject({ action: 'kill_switch.engage', outcome: 'applied' });
    await worker.close();
  });

  it('resumes the safety lane when another client pauses it, so an engage still applies, and audits the resume', async () => {
    const { database, prefix, producer } = fixture.current;
    await database.pool.query(sql.unsafe`UPDATE public.go_live_state SET kill_switch_engaged = false WHERE id = 1`);
    const worker = await startInProcessWorker(database, prefix);
    // A plain BullMQ client (another dashboard, a script) pauses the lane; the api refuses to.
    const safety = producer.queues.byName[QUEUES.governanceSafety];
    await safety.pause();
    const engage = await change({ action: 'kill_switch.engage', reason: 'incident while the lane was paused' });
    const outcome = await waitForJob(producer, engage);
    expect(outcome.state).toBe('completed');
    expect(await safety.isPaused()).toBe(false);
    expect(await goLiveRow()).toMatchObject({ kill_switch_engaged: true });
    const resumes = await waitFor(async () => {
      const found = (await listAuditEntriesInOrder(database.pool)).filter((entry) => entry.action === 'queue.resumed');
      return found.length > 0 ? found : false;
    }, { timeoutMs: 10_000, description: 'the resume audited' });
    expect(resumes[0]).toMatchObject({ kind: 'event', actor: 'system:worker', details: { queue: QUEUES.governanceSafety } });
    await worker.close();
  });
});
