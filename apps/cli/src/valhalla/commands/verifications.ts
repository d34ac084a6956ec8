import type { VerificationsPage } from '@valhalla/contract';
import { EXIT, type Command } from '../command.js';
import { table } from '../format.js';

export const verificationsCommand: Command = {
  name: 'verifications',
  synopsis: '[--limit N]',
  summary: 'verification runs, newest first',
  words: 0,
  flags: { '--limit': { description: 'runs to show', value: 'N' } },
  run: async ({ api, option, print }) => {
    const limit = option('--limit');
    const page = await api().get<VerificationsPage>(`/api/governance/verifications${limit === undefined ? '' : `?limit=${encodeURIComponent(limit)}`}`);
    print(table(page.items, ['id', 'finished_at', 'release', 'migration_head', 'passed', 'actor']), page);
    return EXIT.done;
  },
};
