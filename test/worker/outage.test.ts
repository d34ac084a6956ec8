import { describe, expect, it } from 'vitest';
import { useWorkerFixture } from './support/workerHarness.js';
import { expectNoInternals, runOutageScenario } from './support/outageScenario.js';

const fixture = useWorkerFixture('outage');

describe('PostgreSQL unreachable for 40 s while changes stream in from the api and from a plain BullMQ client', () => {
  it('completes every job once (none fails, whatever its attempts), one audit entry each, the log replaying to the state', async () => {
    const outcome = await runOutageScenario(fixture.current, {
      outageMs: 40_000,
      // The production base delay; the cap shortened from 30 s so the test ends soon after PostgreSQL is back.
      workerEnv: { TRANSIENT_RETRY_MAX_MS: '3000' },
      streamIntervalMs: 400,
      finishTimeoutMs: 30_000,
    });
    const { jobs } = outcome;
    expect(jobs.filter((job) => job.state !== 'completed')).toEqual([]);
    // Jobs created before or during the outage outlived the old 8-attempt budget (~30 s) by retrying in the worker.
    const waitedOut = jobs.filter((job) => job.createdAt < outcome.outageEndedAt - 30_000);
    expect(waitedOut.length).toBeGreaterThan(0);
    expect(waitedOut.filter((job) => job.source === 'plain').length).toBeGreaterThan(0);
    expect(Math.max(...jobs.map((job) => job.attemptsStarted))).toBeGreaterThan(5);
    // While it lasted, the waiting was visible as the job's state.
    expect(outcome.statesSeenDuringOutage).toContain('delayed');
    expectNoInternals(outcome.apiBodies, fixture.current.database.url);
  }, 120_000);
});
