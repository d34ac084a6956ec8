import { asksMigrateHelp, unknownMigrateFlag } from '../../migrateFlags.js';
import { UsageError, type Command } from '../command.js';

export const migrateCommand: Command = {
  name: 'migrate',
  synopsis: 'up|down|status|verify|stamp|repair ...',
  summary: 'the migration runner (DATABASE_URL, else a running npm run dev\'s database; not the API)',
  words: 'rest',
  flags: {},
  run: async ({ words, migrate, io }) => {
    if (asksMigrateHelp(words)) {
      // Loaded here only: the command's module pulls in the database libraries.
      io.out((await import('../../runMigrateCommand.js')).MIGRATE_USAGE);
      return 0;
    }
    if (migrate === undefined) throw new UsageError('migrate is not available here');
    const problem = unknownMigrateFlag(words);
    if (problem !== undefined) throw new UsageError(problem);
    // The runner's codes are the CLI's: 0 done, 1 failed, 64 usage.
    return migrate(words);
  },
};
