import { randomBytes } from 'node:crypto';
import { EXIT, UsageError, type Command } from '../command.js';

/** 32 random bytes, base64url: 43 characters, well above the API's 24-character minimum in production. */
const generateToken = (): string => randomBytes(32).toString('base64url');

export const tokenCommand: Command = {
  name: 'token',
  synopsis: '[--actor NAME]',
  summary: 'print a new strong random token (with --actor: the NAME:token pair for GOVERNANCE_TOKENS)',
  words: 0,
  flags: { '--actor': { description: 'the actor recorded for this token in the audit log', value: 'NAME' } },
  run: async ({ option, print }) => {
    const actor = option('--actor');
    if (actor !== undefined && !/^[A-Za-z0-9_.@-]{1,100}$/.test(actor)) throw new UsageError('--actor takes letters, digits and _ . @ - (no ":" or ",")');
    const token = generateToken();
    print(actor === undefined ? token : `${actor}:${token}`, actor === undefined ? { token } : { actor, token, governanceTokensEntry: `${actor}:${token}` });
    return EXIT.done;
  },
};
