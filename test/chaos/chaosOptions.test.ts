import { describe, expect, it } from 'vitest';
import { ChaosUsageError, DEFAULT_RESULT_FILE, parseChaosOptions } from './chaosOptions.js';
import { ALL_FAULT_KINDS } from './faults/faultKinds.js';

describe('npm run chaos options', () => {
  it('defaults to ten minutes at full fault timings, a random seed and the gitignored result file', () => {
    const options = parseChaosOptions([], {});
    expect(options).toMatchObject({ minutes: 10, faultScale: 1, keyedClients: 4, unkeyedClients: 1, plainJobsPerSecond: 10, out: DEFAULT_RESULT_FILE, keepDatabase: false, dropFailedDatabase: false, databasePrefix: 'valhalla_chaos_' });
    expect(options.adminDatabaseUrl).toBe('postgresql://postgres@127.0.0.1:5432/postgres');
    expect(DEFAULT_RESULT_FILE).toMatch(/test\/chaos\/results\/chaos-result\.json$/);
  });

  it('narrows the faults to the kinds given, every kind by default', () => {
    expect(parseChaosOptions([], {}).faultKinds).toEqual(ALL_FAULT_KINDS);
    expect(parseChaosOptions(['--faults', 'worker-sigstop, database-cut,worker-sigstop'], {}).faultKinds).toEqual(['worker-sigstop', 'database-cut']);
  });

  it('compresses the fault timings of short runs, not below 0.3', () => {
    expect(parseChaosOptions(['--minutes', '2'], {}).faultScale).toBe(0.5);
    expect(parseChaosOptions(['--minutes', '1'], {}).faultScale).toBe(0.3);
    expect(parseChaosOptions(['--minutes', '3', '--seed', '7', '--keep-database'], { DATABASE_URL: 'postgresql://x@h/db' })).toMatchObject({ seed: 7, keepDatabase: true, adminDatabaseUrl: 'postgresql://x@h/db' });
  });

  it('refuses a bad command line, naming the option', () => {
    expect(() => parseChaosOptions(['--minutes', 'ten'], {})).toThrow(new ChaosUsageError('--minutes must be a number from 0.5 to 1440, not "ten"'));
    expect(() => parseChaosOptions(['--minutes'], {})).toThrow(/--minutes must be a number from 0.5 to 1440, not nothing/);
    expect(() => parseChaosOptions(['--clients', '1.5'], {})).toThrow(/--clients must be an integer/);
    expect(() => parseChaosOptions(['--out', 'result.txt'], {})).toThrow(/--out must name a .json file/);
    expect(() => parseChaosOptions(['--fast'], {})).toThrow(/unknown option "--fast"/);
    expect(() => parseChaosOptions(['--faults', 'worker-sigstop,disk-full'], {})).toThrow(/--faults must list fault kinds from .*, not disk-full/);
    expect(() => parseChaosOptions(['--faults', ''], {})).toThrow(/--faults must list fault kinds/);
    expect(() => parseChaosOptions(['--database-prefix', 'Robert"; DROP'], {})).toThrow(/--database-prefix must be 1-41 lower-case letters/);
  });
});
