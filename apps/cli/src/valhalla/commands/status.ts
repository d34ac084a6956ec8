import type { RunbookStatus } from '../apiTypes.js';
import { EXIT, type Command } from '../command.js';
import { keyValues } from '../format.js';

export const statusCommand: Command = {
  name: 'status',
  synopsis: '',
  summary: 'runbook status: state, live, migrations, last verification, workers',
  words: 0,
  flags: {},
  run: async ({ api, print }) => {
    const status = await api().get<RunbookStatus>('/api/governance/runbook/status');
    const state = status.go_live_state;
    const metadata = status.system_metadata;
    const verification = status.last_verification;
    print(
      keyValues([
        ['live', status.live],
        ['go_live_enabled', state?.go_live_enabled],
        ['kill_switch_engaged', state?.kill_switch_engaged],
        ['changed_by', state?.changed_by],
        ['reason', state?.reason],
        ['updated_at', state?.updated_at],
        ['version', metadata?.version],
        ['backend_complete', metadata?.backend_complete],
        ['migration head', status.migrations?.head],
        ['pending revisions', (status.migrations?.pending ?? []).join(', ') || 'none'],
        ['last verification', verification ? `${verification.passed ? 'passed' : 'FAILED'} (${verification.release}, ${verification.finished_at})` : 'none'],
        ['workers alive', status.workers?.alive],
      ]),
      status,
    );
    return EXIT.done;
  },
};
