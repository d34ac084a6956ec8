import { REASON_FLAG, WAIT_FLAGS, requireOption, type Command } from '../command.js';
import { enqueue } from '../jobs.js';

export const retryCommand: Command = {
  name: 'retry',
  synopsis: '<id> --reason TEXT',
  summary: 'send a failed job back to the queue (final failures are refused: submit a new change)',
  words: 1,
  flags: { ...REASON_FLAG, ...WAIT_FLAGS },
  run: async (context) => {
    const id = context.words[0] as string;
    // The job keeps its id when it goes back to the queue.
    return enqueue(context, `/api/jobs/${encodeURIComponent(id)}/retry`, { reason: requireOption(context, '--reason', 'TEXT') }, id);
  },
};
