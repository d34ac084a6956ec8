import { WAIT_FLAGS, type Command } from '../command.js';
import { enqueue } from '../jobs.js';

export const verifyCommand: Command = {
  name: 'verify',
  synopsis: '[--release R]',
  summary: 'queue a post-deploy migration-verify run (exit 1 with --wait when it fails)',
  words: 0,
  flags: { '--release': { description: 'the deploy to verify, by its RELEASE id (default: the api\'s own)', value: 'R' }, ...WAIT_FLAGS },
  run: async (context) => {
    const release = context.option('--release');
    return enqueue(context, '/api/governance/verify', release === undefined ? {} : { release });
  },
};
