import type { RunbookStatus } from '@valhalla/contract';
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
        // "version" is the backend's (system_metadata.version); the live state's `version` is an audit entry id.
        ['backend version', metadata?.version],
        ['backend_complete', metadata?.backend_complete],
        ['migration head', status.migrations.head],
        ['pending revisions', status.migrations.pending.join(', ') || 'none'],
        // The `release` field is the deploy's id; "release" in the CLI's words is what the kill switch does.
        ['last verification', verification ? `${verification.passed ? 'passed' : 'FAILED'} (deploy ${verification.release}, ${verification.finished_at})` : 'none'],
        ['workers alive', status.workers.alive],
      ]),
      status,
    );
    return EXIT.done;
  },
};
