/** One operator credential from `GOVERNANCE_TOKENS`: the actor recorded as `changed_by`, and its bearer token. */
export type GovernanceToken = { readonly actor: string; readonly token: string };

const ACTOR_PATTERN = /^[A-Za-z0-9][A-Za-z0-9_.@-]{0,99}$/;

/**
 * Parses `actor:token,actor:token`. Returns the pairs or a list of problems (never throws), so the config schema can
 * report them under the variable's name. The token may itself contain `:`; only the first one separates.
 */
export const parseGovernanceTokens = (
  raw: string,
  options: { minTokenLength: number },
): { tokens: GovernanceToken[]; problems: string[] } => {
  const tokens: GovernanceToken[] = [];
  const problems: string[] = [];
  const seenTokens = new Set<string>();
  const entries = raw.split(',').map((entry) => entry.trim()).filter((entry) => entry.length > 0);
  entries.forEach((entry, index) => {
    const separator = entry.indexOf(':');
    if (separator <= 0) {
      problems.push(`entry ${index + 1} is not actor:token`);
      return;
    }
    const actor = entry.slice(0, separator);
    const token = entry.slice(separator + 1);
    if (!ACTOR_PATTERN.test(actor)) {
      problems.push(`entry ${index + 1}: actor must be 1-100 characters of letters, digits, _ . @ -`);
      return;
    }
    if (token.length < options.minTokenLength) {
      problems.push(`entry ${index + 1} (actor ${actor}): token must be at least ${options.minTokenLength} characters`);
      return;
    }
    // Visible ASCII only: white space, control characters and non-ASCII letters cannot survive an HTTP header
    // intact (and a look-alike Unicode token is a trap for whoever copies it).
    if (!/^[\x21-\x7E]+$/.test(token)) {
      problems.push(`entry ${index + 1} (actor ${actor}): token must be visible ASCII (no white space, control or non-ASCII characters)`);
      return;
    }
    if (seenTokens.has(token)) {
      problems.push(`entry ${index + 1} (actor ${actor}): token is used by another entry`);
      return;
    }
    seenTokens.add(token);
    tokens.push({ actor, token });
  });
  return { tokens, problems };
};
