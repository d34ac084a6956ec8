import { REASON_FLAG, UsageError, WAIT_FLAGS, requireOption, type Command } from '../command.js';
import { enqueue } from '../jobs.js';

const parseBoolean = (value: string | undefined, flag: string): boolean | undefined => {
  if (value === undefined) return undefined;
  if (value === 'true') return true;
  if (value === 'false') return false;
  throw new UsageError(`${flag} takes true or false`);
};

export const metadataCommand: Command = {
  name: 'metadata',
  synopsis: '[--version V] [--backend-complete true|false] [--notes TEXT] --reason TEXT',
  summary: 'queue a system_metadata change',
  words: 0,
  flags: {
    '--version': { description: 'the backend version to record', value: 'V' },
    '--backend-complete': { description: 'mark the backend complete (a go-live precondition)', value: 'true|false' },
    '--notes': { description: 'free text', value: 'TEXT' },
    ...REASON_FLAG,
    ...WAIT_FLAGS,
  },
  run: async (context) => {
    const body: Record<string, unknown> = { reason: requireOption(context, '--reason', 'TEXT') };
    const version = context.option('--version');
    const backendComplete = parseBoolean(context.option('--backend-complete'), '--backend-complete');
    const notes = context.option('--notes');
    if (version !== undefined) body['version'] = version;
    if (backendComplete !== undefined) body['backend_complete'] = backendComplete;
    if (notes !== undefined) body['notes'] = notes;
    if (Object.keys(body).length === 1) throw new UsageError('metadata needs --version, --backend-complete or --notes');
    return enqueue(context, '/api/governance/system-metadata', body);
  },
};
