/**
 * Flags of each migrate subcommand, checked by both entrypoints (`npm run migrate` and `npx valhalla migrate`) before
 * anything connects: a typo such as `status --jsn` must not be silently ignored. Subcommands not listed here are passed
 * on as they are (the runner answers unknown ones with its usage).
 */
const MIGRATE_FLAGS: Readonly<Record<string, readonly string[]>> = {
  up: ['--to'],
  down: ['--to', '--export-and-drop'],
  status: ['--json'],
  verify: ['--json'],
  stamp: ['--reason'],
  repair: ['--reason'],
};

/** Flags that take a value: the word after them is that value, even when it starts with `--`. */
const VALUE_FLAGS = new Set(['--to', '--reason']);

/** The first flag `args` (`[subcommand, ...rest]`) gives that its subcommand does not take, as a message; else undefined. */
export const unknownMigrateFlag = (args: readonly string[]): string | undefined => {
  const [subcommand, ...rest] = args;
  const known = subcommand === undefined ? undefined : MIGRATE_FLAGS[subcommand];
  if (known === undefined) return undefined;
  for (let i = 0; i < rest.length; i += 1) {
    const word = rest[i] as string;
    if (!word.startsWith('--')) continue;
    const flag = word.split('=')[0] as string;
    if (!known.includes(flag)) return `migrate ${subcommand} does not take ${flag}`;
    if (VALUE_FLAGS.has(flag) && !word.includes('=')) i += 1;
  }
  return undefined;
};
