import { REASON_FLAG, UsageError, WAIT_FLAGS, requireOption, type Command } from '../command.js';
import { enqueue } from '../jobs.js';

export const killSwitchCommand: Command = {
  name: 'kill-switch',
  synopsis: 'engage|release --reason TEXT',
  summary: 'engage (always allowed, applied in the request) or release (queued) the kill switch',
  words: 1,
  flags: { ...REASON_FLAG, ...WAIT_FLAGS },
  run: async (context) => {
    const [action] = context.words;
    if (action !== 'engage' && action !== 'release') throw new UsageError('kill-switch takes engage or release');
    return enqueue(context, '/api/governance/kill-switch', { engaged: action === 'engage', reason: requireOption(context, '--reason', 'TEXT') });
  },
};
