import { describe, expect, it } from 'vitest';
import { listAuditEntriesInOrder, sql } from '../../packages/core/src/index.js';
import { decodeJobFailure, type ChangeResult } from '../../packages/contract/src/index.js';
import { waitFor } from '../helpers/waitFor.js';
import {
  auditCount,
  completedChangeJobs,
  failedChangeJobs,
  burstPayload,
  currentSnapshot,
  expectAuditReplaysToState,
  startWorkerProcess,
  useWorkerFixture,
  waitForGovernanceJobs,
  waitForJob,
  workerEnv,
} from './support/workerHarness.js';

const fixture = useWorkerFixture('crash');

describe('worker crashes', () => {
  it('SIGKILL in the middle of a burst of 500: two restarted workers finish every job, each applied once', async () => {
    const { database, prefix, producer } = fixture.current;
    const total = 500;
    const initial = await currentSnapshot(database.pool);
    const first = await startWorkerProcess(workerEnv(database, prefix), 'worker 1');

    const ids = await Promise.all(Array.from({ length: total }, (_, i) => producer.change(burstPayload(i))));
    const killedAt = await waitFor(async () => {
      const count = await auditCount(database.pool);
      return count >= 60 ? count : false;
    }, { intervalMs: 10, timeoutMs: 20_000, description: 'the burst to be under way' });
    await first.stop('SIGKILL');
    const auditAtKill = await auditCount(database.pool);
    expect(killedAt).toBeLessThan(total);
    expect(auditAtKill).toBeLessThan(total);

    const restarted = await Promise.all([
      startWorkerProcess(workerEnv(database, prefix), 'worker 2'),
      startWorkerProcess(workerEnv(database, prefix), 'worker 3'),
    ]);
    await waitForGovernanceJobs(producer, total, 60_000);
    // The jobs the killed worker held were found by stall detection and run again.
    const stalled = restarted.flatMap((worker) => worker.logLines()).filter((line) => line.msg === 'job stalled; it will be redelivered');
    expect(stalled.length).toBeGreaterThan(0);

    // Every job ended: completed, or failed only because go-live enable was rejected (never retries exhausted).
    const failed = await failedChangeJobs(producer);
    for (const job of failed) expect(decodeJobFailure(job.failedReason)).toMatchObject({ code: expect.stringMatching(/^(PRECONDITION_FAILED|SUPERSEDED)$/), final: true });
    const completed = await completedChangeJobs(producer);
    expect(completed.length + failed.length).toBe(total);

    // Exactly one audit row per job id, and the log replays to the state in the tables.
    const entries = await expectAuditReplaysToState(database.pool, initial);
    expect(entries).toHaveLength(total);
    expect(new Set(entries.map((entry) => entry.job_id))).toEqual(new Set(ids));
    const byJob = new Map(entries.map((entry) => [entry.job_id, entry]));
    for (const job of completed) expect((job.returnvalue as ChangeResult).auditId).toBe(byJob.get(job.id!)?.id);
    expect(await database.pool.oneFirst(sql.unsafe`SELECT count(*)::int FROM public.governance_executed_jobs`)).toBe(total);

    for (const worker of restarted) expect((await worker.stop('SIGTERM')).code).toBe(0);
  });

  it('a worker killed after commit but before the ack: the redelivered job replays its stored result, applied once', async () => {
    const { database, prefix, producer } = fixture.current;
    const env = workerEnv(database, prefix, { WORKER_FAULT: 'crash-after-commit:1' });
    const doomed = await startWorkerProcess(env, 'doomed worker');
    const jobId = await producer.change({ action: 'kill_switch.release', actor: 'ops:alice', reason: 'commit then crash' });

    expect(await doomed.exited).toEqual({ code: null, signal: 'SIGKILL' });
    const stored = (await database.pool.one(sql.unsafe`SELECT result FROM public.governance_executed_jobs WHERE job_id = ${jobId}`)) as { result: unknown };
    expect(await (await producer.queues.findJob(jobId))!.getState()).toBe('active');
    expect(await auditCount(database.pool)).toBe(1);

    // Same fault setting: a replay is not a commit, so the restarted worker does not crash on the redelivery.
    const survivor = await startWorkerProcess(env, 'survivor worker');
    const outcome = await waitForJob(producer, jobId, 20_000);
    expect(outcome.state).toBe('completed');
    expect(outcome.returnvalue).toEqual(stored.result);
    expect(await auditCount(database.pool)).toBe(1);
    expect((await listAuditEntriesInOrder(database.pool)).filter((entry) => entry.kind === 'change')[0]).toMatchObject({ job_id: jobId, outcome: 'applied' });
    expect(await currentSnapshot(database.pool)).toMatchObject({ kill_switch_engaged: false });
    expect(survivor.logLines().some((line) => line.msg === 'job already executed; returning the stored result' && line.jobId === jobId)).toBe(true);
    expect((await survivor.stop('SIGTERM')).code).toBe(0);
  });
});
