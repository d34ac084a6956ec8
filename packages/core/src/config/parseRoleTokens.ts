import { parseGovernanceTokens } from './parseGovernanceTokens.js';
import { ROLE_TOKEN_VARIABLES, type Role, type RoleToken } from './roles.js';

export type RoleTokenProblem = { field: string; message: string; crossRole: boolean };

/**
 * Parses the `actor:token` lists of every role (same format and rules as GOVERNANCE_TOKENS) and checks that no token
 * is in two roles: a token shared by an operator and a reader would make the reader an operator, depending on the
 * order of a lookup. Never throws; each problem names its variable.
 */
export const parseRoleTokens = (
  raw: Readonly<Record<Role, string | undefined>>,
  options: { minTokenLength: number },
): { tokens: RoleToken[]; problems: RoleTokenProblem[] } => {
  const tokens: RoleToken[] = [];
  const problems: RoleTokenProblem[] = [];
  const owner = new Map<string, Role>();
  for (const role of Object.keys(ROLE_TOKEN_VARIABLES) as Role[]) {
    const field = ROLE_TOKEN_VARIABLES[role];
    const parsed = parseGovernanceTokens(raw[role] ?? '', options);
    for (const message of parsed.problems) problems.push({ field, message, crossRole: false });
    for (const token of parsed.tokens) {
      const other = owner.get(token.token);
      if (other !== undefined) {
        problems.push({ field, message: `actor ${token.actor}: token is also in ${ROLE_TOKEN_VARIABLES[other]} (a token has one role)`, crossRole: true });
        continue;
      }
      owner.set(token.token, role);
      tokens.push({ ...token, role });
    }
  }
  return { tokens, problems };
};
