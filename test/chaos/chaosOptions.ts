import { randomInt } from 'node:crypto';
import { fileURLToPath } from 'node:url';
import { ALL_FAULT_KINDS, type FaultKind } from './faults/faultKinds.js';

/** What a fault run is asked to do (`npm run chaos -- --minutes N ...`). */
export type ChaosOptions = {
  /** How long faults are injected (the run takes longer: start, recovery, drain, checks). */
  minutes: number;
  /** Where the JSON result is written; the product processes' logs go to a folder beside it. */
  out: string;
  /** Seeds every random choice (fault order, targets, durations, request mix): the same seed, the same run. */
  seed: number;
  /** Keyed HTTP clients (every change with an Idempotency-Key, retried until answered). */
  keyedClients: number;
  /** HTTP clients that send no key and never retry (their 503s must never be applied). */
  unkeyedClients: number;
  /** Jobs per second the plain BullMQ producer adds straight to the queues. */
  plainJobsPerSecond: number;
  /** PostgreSQL to create the run's own database on (DATABASE_URL, else the local server). */
  adminDatabaseUrl: string;
  /** Keep the run's database even when every check passed (it is kept when one failed unless dropFailedDatabase). */
  keepDatabase: boolean;
  /** Drop the run's database even when a check failed (the test suite's policy unless VALHALLA_KEEP_FAILED_DB=1). */
  dropFailedDatabase: boolean;
  /** The run's database is named `<prefix><random hex>` (the test suite passes its run's prefix). */
  databasePrefix: string;
  /** The fault kinds injected (all by default; --faults narrows them to reproduce a finding). */
  faultKinds: readonly FaultKind[];
  /**
   * Compresses the fault timings of short runs: 1 for runs of 4 minutes or more (a fault every 10-20 s, database cuts
   * 5-15 s), down to 0.3 for a one-minute run, so that every fault kind still happens. A worker's SIGSTOP stays 10 s.
   */
  faultScale: number;
};

/** A command line the runner cannot run; the message says which option and why. */
export class ChaosUsageError extends Error {
  override name = 'ChaosUsageError';
}

export const DEFAULT_RESULT_FILE = fileURLToPath(new URL('./results/chaos-result.json', import.meta.url));

export const CHAOS_USAGE = [
  'usage: npm run chaos -- [--minutes N] [--out FILE] [--seed S] [--clients N] [--unkeyed-clients N] [--plain-rate R] [--faults a,b] [--keep-database | --drop-failed-database] [--database-prefix P]',
  '  --minutes N          minutes of faults (default 10; a fault every 10-20 s, compressed below 4 minutes)',
  '  --out FILE           JSON result (default test/chaos/results/chaos-result.json); logs go to FILE without .json + -logs/',
  '  --seed S             seed of every random choice (default: random, printed)',
  '  --clients N          keyed HTTP clients (default 4)',
  '  --unkeyed-clients N  HTTP clients without Idempotency-Key, never retrying (default 1)',
  '  --plain-rate R       jobs per second added straight to the queues by the plain producer (default 10)',
  '  --keep-database      keep the run database even when every check passed (it is kept when one failed)',
  '  --drop-failed-database  drop it even when a check failed',
  '  --database-prefix P  name the run database P<random hex> (default valhalla_chaos_)',
  `  --faults a,b         inject only these fault kinds (default all: ${ALL_FAULT_KINDS.join(', ')})`,
  'environment: DATABASE_URL (an admin connection; the run creates and drops a database of its own), else the local PostgreSQL.',
].join('\n');

const numberOption = (args: readonly string[], name: string, fallback: number, rule: { min: number; max: number; integer?: boolean }): number => {
  const index = args.indexOf(name);
  if (index < 0) return fallback;
  const text = args[index + 1];
  const value = Number(text);
  if (text === undefined || text.trim() === '' || !Number.isFinite(value) || value < rule.min || value > rule.max || (rule.integer === true && !Number.isInteger(value))) {
    throw new ChaosUsageError(`${name} must be ${rule.integer === true ? 'an integer' : 'a number'} from ${rule.min} to ${rule.max}, not ${text === undefined ? 'nothing' : JSON.stringify(text)}`);
  }
  return value;
};

const KNOWN = new Set(['--minutes', '--out', '--seed', '--clients', '--unkeyed-clients', '--plain-rate', '--keep-database', '--drop-failed-database', '--database-prefix', '--faults']);
const TAKES_VALUE = new Set(['--minutes', '--out', '--seed', '--clients', '--unkeyed-clients', '--plain-rate', '--database-prefix', '--faults']);

const isFaultKind = (name: string): name is FaultKind => (ALL_FAULT_KINDS as readonly string[]).includes(name);

const faultKindsOption = (args: readonly string[]): readonly FaultKind[] => {
  const index = args.indexOf('--faults');
  if (index < 0) return ALL_FAULT_KINDS;
  const names = (args[index + 1] ?? '').split(',').map((name) => name.trim()).filter((name) => name.length > 0);
  const unknown = names.filter((name) => !isFaultKind(name));
  if (names.length === 0 || unknown.length > 0) {
    throw new ChaosUsageError(`--faults must list fault kinds from ${ALL_FAULT_KINDS.join(', ')}${unknown.length > 0 ? `, not ${unknown.join(', ')}` : ''}`);
  }
  return [...new Set(names.filter(isFaultKind))];
};

/**
 * Parses the runner's command line and environment.
 * @throws ChaosUsageError naming the option.
 */
export const parseChaosOptions = (args: readonly string[], env: Readonly<Record<string, string | undefined>>): ChaosOptions => {
  for (let i = 0; i < args.length; i += 1) {
    const arg = args[i] as string;
    if (!KNOWN.has(arg)) throw new ChaosUsageError(`unknown option ${JSON.stringify(arg)}`);
    if (TAKES_VALUE.has(arg)) i += 1;
  }
  const minutes = numberOption(args, '--minutes', 10, { min: 0.5, max: 24 * 60 });
  const outIndex = args.indexOf('--out');
  const out = outIndex < 0 ? DEFAULT_RESULT_FILE : args[outIndex + 1];
  if (out === undefined || out.trim() === '' || !out.endsWith('.json')) throw new ChaosUsageError('--out must name a .json file');
  const prefixIndex = args.indexOf('--database-prefix');
  const databasePrefix = prefixIndex < 0 ? 'valhalla_chaos_' : args[prefixIndex + 1];
  if (databasePrefix === undefined || !/^[a-z_][a-z0-9_]{0,40}$/.test(databasePrefix)) {
    throw new ChaosUsageError('--database-prefix must be 1-41 lower-case letters, digits or _, not starting with a digit');
  }
  return {
    minutes,
    out,
    seed: numberOption(args, '--seed', randomInt(1, 2 ** 31 - 1), { min: 0, max: 2 ** 32 - 1, integer: true }),
    keyedClients: numberOption(args, '--clients', 4, { min: 1, max: 64, integer: true }),
    unkeyedClients: numberOption(args, '--unkeyed-clients', 1, { min: 0, max: 64, integer: true }),
    plainJobsPerSecond: numberOption(args, '--plain-rate', 10, { min: 0, max: 1_000 }),
    adminDatabaseUrl: env.DATABASE_URL ?? 'postgresql://postgres@127.0.0.1:5432/postgres',
    keepDatabase: args.includes('--keep-database'),
    dropFailedDatabase: args.includes('--drop-failed-database'),
    databasePrefix,
    faultKinds: faultKindsOption(args),
    faultScale: Math.min(1, Math.max(0.3, minutes / 4)),
  };
};
