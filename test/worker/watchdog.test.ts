import { describe, expect, it } from 'vitest';
import { sql } from '../../packages/core/src/index.js';
import { QUEUES } from '../../packages/contract/src/index.js';
import { WATCHDOG_ACTOR, WATCHDOG_SCHEDULER_ID } from '../../apps/worker/src/index.js';
import { adminQuery } from '../helpers/database.js';
import { waitFor } from '../helpers/waitFor.js';
import { startInProcessWorker, useWorkerFixture, waitForJob } from './support/workerHarness.js';

const fixture = useWorkerFixture('watchdog');

const scrapeDrift = async (port: number | undefined): Promise<number> => {
  const text = await (await fetch(`http://127.0.0.1:${port}/metrics`)).text();
  return Number(/^valhalla_verification_drift_total (\d+)/m.exec(text)?.[1] ?? Number.NaN);
};

describe('verification watchdog', () => {
  it('is scheduled once by two workers, finds a drift made by hand on the next run, audits it, counts it and engages the kill switch', async () => {
    const { database, prefix, producer } = fixture.current;
    const app = { verifyIntervalSeconds: 1, driftAction: 'engage' as const };
    const workers = await Promise.all([
      startInProcessWorker(database, prefix, { app, env: { METRICS_PORT: '0', HOST: '127.0.0.1' } }),
      startInProcessWorker(database, prefix, { app, env: { METRICS_PORT: '0', HOST: '127.0.0.1' } }),
    ]);
    const queue = producer.queues.byName[QUEUES.verification];
    const schedulers = await queue.getJobSchedulers();
    expect(schedulers.map((s) => [s.key, s.every])).toEqual([[WATCHDOG_SCHEDULER_ID, 1000]]);
    // One upcoming job for the scheduler, however many workers upserted it.
    const upcoming = (await queue.getDelayed()).filter((job) => job.repeatJobKey === WATCHDOG_SCHEDULER_ID);
    expect(upcoming.length).toBeLessThanOrEqual(1);

    const release = await producer.change({ action: 'kill_switch.release', actor: 'ops:alice', reason: 'deploy checked' });
    expect((await waitForJob(producer, release)).state).toBe('completed');
    await waitFor(
      async () => (await database.pool.maybeOne(sql.unsafe`SELECT id FROM public.verification_runs WHERE actor = ${WATCHDOG_ACTOR} AND passed`)) !== null,
      { timeoutMs: 15_000, description: 'a passed scheduled run' },
    );
    expect((await scrapeDrift(workers[0].metricsPort)) + (await scrapeDrift(workers[1].metricsPort))).toBe(0);

    // Drift made by hand: an index that 20260202_verification_runs' verify script checks.
    await adminQuery('DROP INDEX public.verification_runs_head_latest_idx', database.name);

    const drift = await waitFor(
      async () => (await database.pool.maybeOne(sql.unsafe`SELECT kind, actor, details FROM public.governance_audit_log WHERE action = 'verification.drift'`)) ?? false,
      { timeoutMs: 15_000, description: 'the drift audit event' },
    );
    expect(drift).toMatchObject({ kind: 'event', actor: WATCHDOG_ACTOR });
    expect(JSON.stringify((drift as { details: unknown }).details)).toMatch(/verification_runs head index exists/);
    const engaged = await waitFor(
      async () => (await database.pool.maybeOne(sql.unsafe`SELECT actor, outcome FROM public.governance_audit_log WHERE action = 'kill_switch.engage'`)) ?? false,
      { timeoutMs: 15_000, description: 'the engage the drift enqueued' },
    );
    expect(engaged).toEqual({ actor: WATCHDOG_ACTOR, outcome: 'applied' });
    expect(await database.pool.oneFirst(sql.unsafe`SELECT kill_switch_engaged FROM public.go_live_state WHERE id = 1`)).toBe(true);
    // Whichever worker ran the failing job moved its counter.
    expect((await scrapeDrift(workers[0].metricsPort)) + (await scrapeDrift(workers[1].metricsPort))).toBe(1);

    // Later failed runs are not new drifts: one event, however many runs fail.
    const failedRuns = async () =>
      Number(await database.pool.oneFirst(sql.unsafe`SELECT count(*) FROM public.verification_runs WHERE actor = ${WATCHDOG_ACTOR} AND NOT passed`));
    const seen = await failedRuns();
    await waitFor(async () => (await failedRuns()) > seen, { timeoutMs: 15_000, description: 'another failed scheduled run' });
    expect(await database.pool.oneFirst(sql.unsafe`SELECT count(*)::int FROM public.governance_audit_log WHERE action = 'verification.drift'`)).toBe(1);
    // Two workers, one schedule: one job per 1 s slot (BullMQ slot ids repeat:<scheduler>:<millis>), never two.
    const slots = (await database.pool.anyFirst(sql.unsafe`SELECT job_id FROM public.verification_runs WHERE actor = ${WATCHDOG_ACTOR}`))
      .map((id) => Number(/:(\d+)$/.exec(String(id))?.[1]))
      .sort((a, b) => a - b);
    expect(slots.length).toBeGreaterThanOrEqual(3);
    for (let i = 1; i < slots.length; i += 1) expect((slots[i] as number) - (slots[i - 1] as number)).toBeGreaterThanOrEqual(1000);
    await Promise.all(workers.map((worker) => worker.close()));
  });

  it('VERIFY_INTERVAL_SECONDS=0 removes the scheduler', async () => {
    const { database, prefix, producer } = fixture.current;
    const on = await startInProcessWorker(database, prefix, { app: { verifyIntervalSeconds: 60 } });
    expect((await producer.queues.byName[QUEUES.verification].getJobSchedulers()).length).toBe(1);
    await on.close();
    const off = await startInProcessWorker(database, prefix, { app: { verifyIntervalSeconds: 0 } });
    expect(await producer.queues.byName[QUEUES.verification].getJobSchedulers()).toEqual([]);
    await off.close();
  });
});
