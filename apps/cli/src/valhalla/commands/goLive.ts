import { REASON_FLAG, UsageError, WAIT_FLAGS, requireOption, type Command } from '../command.js';
import { enqueue } from '../jobs.js';

export const goLiveCommand: Command = {
  name: 'go-live',
  synopsis: 'enable|disable --reason TEXT',
  summary: 'disable (applied in the request) or enable (queued; rejected with exit 2 unless the preconditions hold)',
  words: 1,
  flags: { ...REASON_FLAG, ...WAIT_FLAGS },
  run: async (context) => {
    const [action] = context.words;
    if (action !== 'enable' && action !== 'disable') throw new UsageError('go-live takes enable or disable');
    return enqueue(context, '/api/governance/go-live', { enabled: action === 'enable', reason: requireOption(context, '--reason', 'TEXT') });
  },
};
