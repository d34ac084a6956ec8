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
    // The run's `release` field is the id of the deploy it verified; in the CLI's words "release" is the kill switch's.
    const rows = page.items.map((run) => ({ ...run, deploy: run.release }));
    print(table(rows, ['id', 'finished_at', 'deploy', 'migration_head', 'passed', 'actor']), page);
    return EXIT.done;
  },
};
