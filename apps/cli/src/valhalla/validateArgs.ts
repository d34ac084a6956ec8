import type { ParsedArgs } from './parseArgs.js';

/** A command line the CLI cannot run; printed with the usage text, exit 1. */
export class UsageError extends Error {
  override readonly name = 'UsageError';
}

/** Options every command takes. */
const GLOBAL_FLAGS = ['--json', '--help'] as const;
/** Options that take a value (`--flag value` or `--flag=value`); the others are switches. */
const VALUE_FLAGS: ReadonlySet<string> = new Set(['--reason', '--timeout', '--version', '--backend-complete', '--notes', '--release', '--limit', '--before']);
const WAIT_FLAGS = ['--wait', '--timeout'] as const;

/** Per command: its positional words (command included) and the options it takes besides the global ones. */
const COMMAND_SHAPES: Readonly<Record<string, { positional: number; flags: readonly string[] }>> = {
  help: { positional: 1, flags: [] },
  status: { positional: 1, flags: [] },
  'go-live': { positional: 2, flags: ['--reason', ...WAIT_FLAGS] },
  'kill-switch': { positional: 2, flags: ['--reason', ...WAIT_FLAGS] },
  metadata: { positional: 1, flags: ['--version', '--backend-complete', '--notes', '--reason', ...WAIT_FLAGS] },
  verify: { positional: 1, flags: ['--release', ...WAIT_FLAGS] },
  audit: { positional: 1, flags: ['--limit', '--before'] },
  verifications: { positional: 1, flags: ['--limit'] },
  jobs: { positional: 2, flags: WAIT_FLAGS },
  retry: { positional: 2, flags: ['--reason', ...WAIT_FLAGS] },
};

/**
 * Rejects what would otherwise be silently ignored: an option the command does not take (a typo such as `--wiat`
 * must not turn a blocking call into a fire-and-forget one), an option missing its value, extra words.
 * @throws UsageError naming the problem.
 */
export const validateArgs = (command: string, args: ParsedArgs): void => {
  const shape = COMMAND_SHAPES[command];
  if (shape === undefined) throw new UsageError(`unknown command ${command}`);
  const allowed = new Set<string>([...GLOBAL_FLAGS, ...shape.flags]);
  for (const [flag, value] of args.options) {
    if (!allowed.has(flag)) throw new UsageError(`${command} does not take ${flag}`);
    if (VALUE_FLAGS.has(flag) && value === true) throw new UsageError(`${flag} needs a value`);
  }
  if (args.positional.length > shape.positional) {
    throw new UsageError(`unexpected argument ${JSON.stringify(args.positional[shape.positional])} for ${command}`);
  }
};

/**
 * `--timeout SECONDS` of --wait, in milliseconds (default 60 s).
 * @throws UsageError when it is not a positive number of seconds (at most a day).
 */
export const waitTimeoutMs = (value: string | undefined): number => {
  if (value === undefined) return 60_000;
  const seconds = Number(value);
  if (!Number.isFinite(seconds) || seconds <= 0 || seconds > 86_400) throw new UsageError('--timeout takes a number of seconds (0 < s <= 86400)');
  return seconds * 1000;
};
