import { unknownMigrateFlag } from '../../migrateFlags.js';
import { EXIT, UsageError, type Command } from '../command.js';

export const migrateCommand: Command = {
  name: 'migrate',
  synopsis: 'up|down|status|verify|stamp|repair ...',
  summary: 'the migration runner (DATABASE_URL, else a running npm run dev\'s database; not the API)',
  words: 'rest',
  flags: {},
  run: async ({ words, migrate }) => {
    if (migrate === undefined) throw new UsageError('migrate is not available here');
    const problem = unknownMigrateFlag(words);
    if (problem !== undefined) throw new UsageError(problem);
    const code = await migrate(words);
    // The migrate runner answers a usage error with 2; here 2 means "rejected by the state rules".
    return code === 2 ? EXIT.usage : code;
  },
};
