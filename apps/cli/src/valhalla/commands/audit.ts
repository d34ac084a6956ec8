import type { AuditPage } from '@valhalla/contract';
import { EXIT, type Command } from '../command.js';
import { table } from '../format.js';

export const auditCommand: Command = {
  name: 'audit',
  synopsis: '[--limit N] [--before ID]',
  summary: 'audit log, newest first',
  words: 0,
  flags: {
    '--limit': { description: 'entries per page (1-200)', value: 'N' },
    '--before': { description: 'the page before this entry id (the "next" of the previous page)', value: 'ID' },
  },
  run: async ({ api, option, print }) => {
    const query = new URLSearchParams();
    for (const [flag, key] of [['--limit', 'limit'], ['--before', 'before']] as const) {
      const value = option(flag);
      if (value !== undefined) query.set(key, value);
    }
    const page = await api().get<AuditPage>(`/api/governance/audit${query.size > 0 ? `?${query.toString()}` : ''}`);
    const next = page.next === null ? '' : `\nnext: --before ${page.next}`;
    print(`${table(page.items, ['id', 'created_at', 'actor', 'action', 'outcome', 'reason'])}${next}`, page);
    return EXIT.done;
  },
};
