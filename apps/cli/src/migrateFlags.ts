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

/** How many words after the subcommand each one takes that are not flags (stamp's REV). */
const POSITIONALS: Readonly<Record<string, number>> = { stamp: 1 };

/** Whether the words ask for the usage: `--help` or `-h` anywhere, or `help` as the subcommand. */
export const asksMigrateHelp = (args: readonly string[]): boolean => args[0] === 'help' || args.some((word) => word === '--help' || word === '-h');

/**
 * The first problem of `args` (`[subcommand, ...rest]`) as a message, else undefined: a flag its subcommand does not
 * take, a value flag without its value (`up --to` with an empty $REV must not migrate to head), a flag given twice,
 * or a word nothing takes.
 */
export const unknownMigrateFlag = (args: readonly string[]): string | undefined => {
  const [subcommand, ...rest] = args;
  const known = subcommand === undefined ? undefined : MIGRATE_FLAGS[subcommand];
  if (known === undefined) return undefined;
  const seen = new Set<string>();
  let positionals = 0;
  for (let i = 0; i < rest.length; i += 1) {
    const word = rest[i] as string;
    if (!word.startsWith('--')) {
      positionals += 1;
      if (positionals > (POSITIONALS[subcommand as string] ?? 0)) return `migrate ${subcommand} does not take ${JSON.stringify(word)}`;
      continue;
    }
    const flag = word.split('=')[0] as string;
    if (!known.includes(flag)) return `migrate ${subcommand} does not take ${flag}`;
    if (seen.has(flag)) return `migrate ${subcommand}: ${flag} is given twice`;
    seen.add(flag);
    if (VALUE_FLAGS.has(flag) && !word.includes('=')) {
      if (i + 1 >= rest.length) return `migrate ${subcommand}: ${flag} needs a value`;
      i += 1;
    }
  }
  return undefined;
};
