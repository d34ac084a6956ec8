import { EXIT, UsageError, type Command } from '../command.js';

/** Flags of the migrate subcommands this CLI knows; others (newer subcommands) are passed on as they are. */
const MIGRATE_FLAGS: Readonly<Record<string, readonly string[]>> = {
  up: ['--to'],
  down: ['--to'],
  status: ['--json'],
  verify: ['--json'],
};

export const migrateCommand: Command = {
  name: 'migrate',
  synopsis: 'up|down|status|verify ...',
  summary: 'the migration runner (DATABASE_URL, else a running npm run dev\'s database; not the API)',
  words: 'rest',
  flags: {},
  run: async ({ words, migrate }) => {
    if (migrate === undefined) throw new UsageError('migrate is not available here');
    const [subcommand, ...rest] = words;
    const known = subcommand === undefined ? undefined : MIGRATE_FLAGS[subcommand];
    if (known !== undefined) {
      for (const word of rest) {
        const flag = word.split('=')[0] as string;
        if (flag.startsWith('--') && !known.includes(flag)) throw new UsageError(`migrate ${subcommand} does not take ${flag}`);
      }
    }
    const code = await migrate(words);
    // The migrate runner answers a usage error with 2; here 2 means "rejected by the state rules".
    return code === 2 ? EXIT.usage : code;
  },
};
