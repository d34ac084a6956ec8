import { describe, expect, it } from 'vitest';
import { startNodeProcess } from '../helpers/processes.js';
import { API_ENTRYPOINT } from './processes.js';

const OPERATOR = 'ops:operator-token-0123456789abcdef';

describe('role tokens at api startup', () => {
  it.each([
    [{ READER_TOKENS: 'rita' }, 'READER_TOKENS'],
    [{ APP_TOKENS: 'shop:caf\u00e9-token-0123456789abcdef' }, 'APP_TOKENS'],
    [{ ALERT_TOKENS: 'am:bell\u0007token-0123456789abcdef' }, 'ALERT_TOKENS'],
    [{ READER_TOKENS: 'rita:operator-token-0123456789abcdef' }, 'READER_TOKENS'],
    [{ ADMIN_ACTORS: 'nobody' }, 'ADMIN_ACTORS'],
  ])('exit 78 for %o, naming %s, before touching any dependency', async (env, variable) => {
    // Unreachable dependencies: the process must fail on its configuration first.
    const api = startNodeProcess(
      API_ENTRYPOINT,
      [],
      { GOVERNANCE_TOKENS: OPERATOR, DATABASE_URL: 'postgres://127.0.0.1:1/none', REDIS_URL: 'redis://127.0.0.1:1', ...env },
      'misconfigured api',
    );
    expect((await api.exited).code).toBe(78);
    expect(api.output()).toContain(variable);
    expect(api.output()).not.toContain('operator-token-0123456789abcdef');
  });
});
