import { describe, expect, it } from 'vitest';
import { EXPIRED_CONDITION, listAuditEntriesInOrder } from '../../packages/core/src/index.js';
import { useWorkerFixture } from './support/workerHarness.js';
import { expectNoInternals, runOutageScenario } from './support/outageScenario.js';

const fixture = useWorkerFixture('outage-expiry');

const MAX_AGE_SECONDS = 4;

/**
 * A long outage made short: the retry schedule (TRANSIENT_RETRY_*) and CHANGE_MAX_AGE_SECONDS are configuration, so a
 * 12 s outage with a 200 ms cap retries each waiting job more often than a 5-minute one with the 30 s production cap.
 */
describe('an outage longer than CHANGE_MAX_AGE_SECONDS (shortened schedule)', () => {
  it('applies every engage and disable, rejects older releases and updates as EXPIRED (audited, final), applies newer ones', async () => {
    const outcome = await runOutageScenario(fixture.current, {
      outageMs: 12_000,
      workerEnv: { TRANSIENT_RETRY_BASE_MS: '20', TRANSIENT_RETRY_MAX_MS: '200', CHANGE_MAX_AGE_SECONDS: String(MAX_AGE_SECONDS), METRICS_PORT: '0', HOST: '127.0.0.1' },
      inspectWorker: async (worker) => {
        // The waiting is counted: each transient retry, by queue and job name.
        const text = await (await fetch(`http://127.0.0.1:${worker.metricsPort}/metrics`)).text();
        const retries = /^valhalla_worker_transient_retries_total\{queue="governance",name="go-live-change"\} (\d+)/m.exec(text);
        expect(Number(retries?.[1])).toBeGreaterThan(30);
      },
      streamIntervalMs: 300,
      finishTimeoutMs: 20_000,
    });
    const { jobs } = outcome;
    const safety = jobs.filter((job) => job.action === 'kill_switch.engage' || job.action === 'go_live.disable');
    const others = jobs.filter((job) => !safety.includes(job));
    // Engages and disables never expire, however long they waited.
    expect(safety.filter((job) => job.state !== 'completed')).toEqual([]);
    expect(safety.filter((job) => job.createdAt < outcome.outageEndedAt - MAX_AGE_SECONDS * 1000).length).toBeGreaterThan(0);

    // A failed release or enable is EXPIRED, or SUPERSEDED by an engage or disable that overtook it in the safety lane.
    const failed = others.filter((job) => job.state === 'failed');
    for (const job of failed.filter((j) => j.failure?.code === 'SUPERSEDED')) expect(['kill_switch.release', 'go_live.enable']).toContain(job.action);
    const expired = failed.filter((job) => job.failure?.code !== 'SUPERSEDED');
    expect(expired.length).toBeGreaterThan(0);
    for (const job of expired) {
      expect(job.failure).toMatchObject({ code: 'EXPIRED', final: true });
      // Only a change still waiting past its age expires (counted from its acceptance, a moment before its enqueue).
      expect(job.finishedOn - job.createdAt).toBeGreaterThanOrEqual(MAX_AGE_SECONDS * 1000 - 250);
    }
    // Every other change was applied, within its age (the ack follows the commit by a moment).
    const applied = others.filter((job) => job.state === 'completed');
    for (const job of applied) expect(job.finishedOn - job.createdAt).toBeLessThan(MAX_AGE_SECONDS * 1000 + 1_000);
    expect(applied.filter((job) => job.createdAt >= outcome.outageStartedAt).length).toBeGreaterThan(0);
    expect(Math.max(...jobs.map((job) => job.attemptsStarted))).toBeGreaterThan(30);

    const entries = await listAuditEntriesInOrder(fixture.current.database.pool);
    const expiredEntries = entries.filter((entry) => entry.unmet_conditions.includes(EXPIRED_CONDITION));
    expect(expiredEntries.map((entry) => entry.job_id).sort()).toEqual(expired.map((job) => job.identity).sort());
    expect(expiredEntries.every((entry) => entry.outcome === 'rejected')).toBe(true);
    expectNoInternals([...outcome.apiBodies, ...jobs.map((job) => JSON.stringify(job.failure))], fixture.current.database.url);
  }, 90_000);
});
