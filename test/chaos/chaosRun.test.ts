import { mkdtemp, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import pg from 'pg';
import { describe, expect, inject, it } from 'vitest';
import { adminDatabaseUrl, adminQuery } from '../helpers/database.js';
import { KEPT_DATABASE_COMMENT } from '../helpers/leftovers.js';
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
    // The run's database carries this test run's prefix (the end-of-run leftover check sees it), and is dropped even
    // when a check failed unless the run keeps failed databases (VALHALLA_KEEP_FAILED_DB=1).
    const args = ['--minutes', '1', '--clients', '3', '--plain-rate', '5', '--out', out, '--database-prefix', `vt_${inject('runId')}_chaos_`];
    if (!inject('keepFailedDatabases')) args.push('--drop-failed-database');
    const run = startNodeProcess('test/chaos/run.ts', args, { DATABASE_URL: adminDatabaseUrl() }, 'chaos run', {
      nodeFlags: ['--import', './test/chaos/typescriptImports.ts'],
    });
    let kept: string | undefined;
    try {
      // The run bounds each of its own waits; this only keeps a wedged run from hanging the suite.
      await waitFor(() => run.child.exitCode !== null || run.child.signalCode !== null, { timeoutMs: 210_000, intervalMs: 500, description: 'the fault run to end' });
      const result = JSON.parse(await readFile(out, 'utf8').catch(() => 'null')) as ChaosResult | null;
      if (result?.database.kept === true) kept = result.database.name;
      expect(run.child.exitCode, run.output().slice(-12_000)).toBe(0);
      if (result === null) throw new Error('the run wrote no result');
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
      if (kept !== undefined) await adminQuery(`COMMENT ON DATABASE ${kept} IS ${pg.escapeLiteral(`${KEPT_DATABASE_COMMENT}fault run (npm run chaos, one minute)`)}`);
      await rm(dir, { recursive: true, force: true });
    }
  }, 300_000);
});
