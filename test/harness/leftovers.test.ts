import { scanKeys } from '../helpers/leftovers.js';
import { spawnSync } from 'node:child_process';
import { Redis } from 'ioredis';
import { describe, expect, it } from 'vitest';
import { adminDatabaseUrl, adminQuery } from '../helpers/database.js';
import { REPO_ROOT } from '../helpers/processes.js';
import { testRedisUrl } from '../helpers/redis.js';

/**
 * The end of a test run checks that the run left no database and no Redis key in the shared services. Checked on a
 * real vitest run of a file that leaves things behind on purpose (fixtures/leaky.fixture.ts), with
 * VALHALLA_KEEP_FAILED_DB=1 so that a failed test's database is kept and listed rather than counted as a leak.
 */
describe('the end-of-run leftover check', () => {
  it('fails the run naming a leaked database, removes it, lists a kept one, and leaves no queue key', async () => {
    const run = spawnSync(process.execPath, ['node_modules/vitest/vitest.mjs', 'run', '--config', 'test/harness/fixtures/fixtures.config.ts'], {
      cwd: REPO_ROOT,
      env: { ...process.env, VALHALLA_KEEP_FAILED_DB: '1', DATABASE_URL: adminDatabaseUrl(), REDIS_URL: testRedisUrl() },
      encoding: 'utf8',
      timeout: 120_000,
    });
    const output = `${run.stdout}\n${run.stderr}`;
    const runId = /fixture run id: (\w+)/.exec(output)?.[1];
    expect(runId, output).toMatch(/^[0-9a-f]{6}$/);
    const kept = new RegExp(`vt_${runId}_[0-9a-f]{8}_[0-9a-f]{6}`).exec(/kept because VALHALLA_KEEP_FAILED_DB=1:\n(.*)/.exec(output)?.[1] ?? '')?.[0];
    try {
      expect(run.status, output).toBe(1);
      // The deliberately failing test failed; the check's own report follows the summary.
      expect(output).toMatch(/1 failed/);
      expect(output).toContain('The test run left these behind in the shared PostgreSQL and Redis (now removed)');
      expect(output).toContain(`  database vt_${runId}_forgotten`);
      // The queue keys were deleted when the file ended: not a leak.
      expect(output).not.toMatch(/Redis key\(s\) under/);
      expect(kept, output).toBeDefined();
      expect(output).toMatch(new RegExp(`${kept} \\(\\S*leaky\\.fixture\\.ts-a leaky test file > fails, so that its database is kept.*\\): psql '.*' -c 'DROP DATABASE ${kept}'`));

      const databases = await adminQuery(`SELECT datname FROM pg_database WHERE starts_with(datname, 'vt_${runId}_') ORDER BY datname`);
      expect(databases.rows.map((row: { datname: string }) => row.datname)).toEqual([kept]);
      const redis = new Redis(testRedisUrl());
      try {
        // Every page of the scan: the shared server holds more keys than one SCAN looks at.
        expect(await scanKeys(redis, `bull-test-${runId}-*`)).toEqual([]);
      } finally {
        redis.disconnect();
      }
    } finally {
      if (kept !== undefined) await adminQuery(`DROP DATABASE IF EXISTS ${kept} WITH (FORCE)`);
    }
  });
});
