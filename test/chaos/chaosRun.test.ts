import { mkdtemp, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { adminDatabaseUrl } from '../helpers/database.js';
import { startNodeProcess } from '../helpers/processes.js';
import { waitFor } from '../helpers/waitFor.js';
import { ALL_FAULT_KINDS } from './faults/faultKinds.js';
import type { ChaosResult } from './report/chaosResult.js';

/**
 * The fault run of `npm run chaos`, short: about a minute of faults with compressed intervals, every fault kind at
 * least once, 2 apis and 2 workers as real processes. Fails on any violation the run finds.
 */
describe('fault run (npm run chaos, one minute)', () => {
  it('every fault kind is injected and no check finds a violation', async () => {
    const dir = await mkdtemp(join(tmpdir(), 'valhalla-chaos-'));
    const out = join(dir, 'result.json');
    const run = startNodeProcess('test/chaos/run.ts', ['--minutes', '1', '--clients', '3', '--plain-rate', '5', '--out', out], { DATABASE_URL: adminDatabaseUrl() }, 'chaos run', {
      nodeFlags: ['--import', './test/chaos/typescriptImports.ts'],
    });
    try {
      // The run bounds each of its own waits; this only keeps a wedged run from hanging the suite.
      await waitFor(() => run.child.exitCode !== null || run.child.signalCode !== null, { timeoutMs: 210_000, intervalMs: 500, description: 'the fault run to end' });
      expect(run.child.exitCode, run.output().slice(-12_000)).toBe(0);
      const result = JSON.parse(await readFile(out, 'utf8')) as ChaosResult;
      expect(result.checks.filter((check) => !check.passed)).toEqual([]);
      expect(result.passed).toBe(true);
      for (const kind of ALL_FAULT_KINDS) expect(result.faultCounts[kind], kind).toBeGreaterThanOrEqual(1);
      expect(result.faults.filter((fault) => fault.error !== undefined)).toEqual([]);
      // It did real work through the faults: every check saw something to check.
      expect(result.http.byKind.engage.ok200).toBeGreaterThan(0);
      expect(result.http.keyed.accepted202).toBeGreaterThan(0);
      expect(result.plain.executedOnce).toBeGreaterThan(0);
      expect(result.engageLatency.find((row) => row.phase === 'all engages')?.count).toBeGreaterThan(0);
      const alwaysFed = ['answered-2xx-executed-once', 'safety-200-applied-before-answer', 'keyed-requests-answered', 'plain-jobs-executed-once', 'no-job-applied-twice', 'audit-chain-verifies', 'state-equals-replay'];
      for (const name of alwaysFed) expect(result.checks.find((check) => check.name === name)?.checked, name).toBeGreaterThan(0);
      expect(run.output()).toMatch(/^check +checked +violations +result$/m);
      expect(run.output()).toContain('RESULT: PASSED (0 violations)');
    } finally {
      // SIGTERM lets a run still going stop its processes and drop its database.
      await run.stop('SIGTERM', 60_000);
      await rm(dir, { recursive: true, force: true });
    }
  }, 300_000);
});
