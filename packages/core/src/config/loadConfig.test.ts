import { describe, expect, it } from 'vitest';
import { ConfigError } from '../errors/index.js';
import { loadConfig } from './loadConfig.js';

const fail = (env: Record<string, string>, service: Parameters<typeof loadConfig>[1] = 'api'): ConfigError => {
  try {
    loadConfig(env, service);
  } catch (error) {
    if (error instanceof ConfigError) return error;
    throw error;
  }
  throw new Error('expected a ConfigError');
};

const longToken = 'x'.repeat(24);

describe('loadConfig', () => {
  it('applies the contract defaults and freezes the result', () => {
    const config = loadConfig({}, 'api');
    expect(config).toMatchObject({ port: 3000, host: '0.0.0.0', logLevel: 'info', queuePrefix: 'bull', release: 'local' });
    expect(Object.isFrozen(config)).toBe(true);
    expect(Object.isFrozen(config.governanceTokens)).toBe(true);
  });

  it('reads the live state settings, with at least 1,000 streams per token by default, and names a bad one', () => {
    expect(loadConfig({}, 'api').live).toEqual({ streamsPerToken: 1_000, heartbeatMs: 15_000, fallbackMaxAgeMs: 1_000, maxStalenessMs: 15_000 });
    expect(loadConfig({ LIVE_STREAMS_PER_TOKEN: '5', LIVE_HEARTBEAT_MS: '50' }, 'api').live).toMatchObject({ streamsPerToken: 5, heartbeatMs: 50 });
    expect(fail({ LIVE_STREAMS_PER_TOKEN: '0' }).message).toMatch(/LIVE_STREAMS_PER_TOKEN/);
    expect(fail({ LIVE_HEARTBEAT_MS: 'soon' }).message).toMatch(/LIVE_HEARTBEAT_MS/);
  });

  it('parses actor:token pairs, where a token may contain a colon', () => {
    const config = loadConfig({ GOVERNANCE_TOKENS: 'alice:abc:def, bob:xyz' }, 'api');
    expect(config.governanceTokens).toEqual([
      { actor: 'alice', token: 'abc:def' },
      { actor: 'bob', token: 'xyz' },
    ]);
  });

  it('defaults RELEASE to RENDER_GIT_COMMIT and lets RELEASE win', () => {
    expect(loadConfig({ RENDER_GIT_COMMIT: 'abc123' }, 'worker').release).toBe('abc123');
    expect(loadConfig({ RENDER_GIT_COMMIT: 'abc123', RELEASE: 'v2' }, 'worker').release).toBe('v2');
  });

  it.each([
    [{ PORT: 'eighty' }, 'PORT'],
    [{ PORT: '70000' }, 'PORT'],
    [{ REDIS_URL: 'http://localhost' }, 'REDIS_URL'],
    [{ DATABASE_URL: 'mysql://x' }, 'DATABASE_URL'],
    [{ WORKER_CONCURRENCY: '0' }, 'WORKER_CONCURRENCY'],
    [{ LOG_LEVEL: 'loud' }, 'LOG_LEVEL'],
    [{ API_URL: 'not a url' }, 'API_URL'],
    [{ GOVERNANCE_TOKENS: 'no-separator' }, 'GOVERNANCE_TOKENS'],
    [{ GOVERNANCE_TOKENS: 'a:same,b:same' }, 'GOVERNANCE_TOKENS'],
  ])('rejects %o naming %s', (env, variable) => {
    const error = fail(env);
    expect(error.code).toBe('CONFIG_INVALID');
    expect(error.message).toContain(variable);
  });

  it('requires DATABASE_URL, REDIS_URL and GOVERNANCE_TOKENS in production', () => {
    const error = fail({ NODE_ENV: 'production' });
    expect(error.message).toContain('DATABASE_URL');
    expect(error.message).toContain('REDIS_URL');
    expect(error.message).toContain('GOVERNANCE_TOKENS');
  });

  it('refuses tokens shorter than 24 characters in production, and accepts them in development', () => {
    const production = { NODE_ENV: 'production', DATABASE_URL: 'postgres://db/x', REDIS_URL: 'redis://r:6379', AUDIT_HMAC_KEYS: `k1:${longToken}${longToken}` };
    expect(fail({ ...production, GOVERNANCE_TOKENS: 'ops:short' }).message).toMatch(/GOVERNANCE_TOKENS.*24 characters/);
    expect(loadConfig({ ...production, GOVERNANCE_TOKENS: `ops:${longToken}` }, 'api').governanceTokens).toHaveLength(1);
    expect(loadConfig({ GOVERNANCE_TOKENS: 'ops:short' }, 'api').governanceTokens).toHaveLength(1);
  });

  it('parses the tokens of every role, each token with one role', () => {
    const config = loadConfig(
      { GOVERNANCE_TOKENS: 'ops:o1', READER_TOKENS: 'rita:r1', APP_TOKENS: 'shop:a1', ALERT_TOKENS: 'am:al1', ADMIN_ACTORS: 'ops' },
      'api',
    );
    expect(config.roleTokens).toEqual([
      { actor: 'ops', token: 'o1', role: 'operator' },
      { actor: 'rita', token: 'r1', role: 'reader' },
      { actor: 'shop', token: 'a1', role: 'app' },
      { actor: 'am', token: 'al1', role: 'alerts' },
    ]);
    expect(config.governanceTokens).toEqual([{ actor: 'ops', token: 'o1' }]);
    expect(config).toMatchObject({ adminActors: ['ops'], approvalsRequired: 1, approvalTtlMinutes: 60 });
    expect(loadConfig({ APPROVALS_REQUIRED: '2', APPROVAL_TTL_MINUTES: '5' }, 'api')).toMatchObject({ approvalsRequired: 2, approvalTtlMinutes: 5 });
  });

  it.each([
    [{ READER_TOKENS: 'rita' }, 'READER_TOKENS', /not actor:token/],
    [{ APP_TOKENS: 'shop:tab\there' }, 'APP_TOKENS', /visible ASCII/],
    [{ ALERT_TOKENS: 'am:caf\u00e9-token' }, 'ALERT_TOKENS', /visible ASCII/],
    [{ READER_TOKENS: 'rita:bell\u0007x' }, 'READER_TOKENS', /visible ASCII/],
    [{ READER_TOKENS: 'rita:same,rob:same' }, 'READER_TOKENS', /used by another entry/],
    [{ GOVERNANCE_TOKENS: 'ops:shared', READER_TOKENS: 'rita:shared' }, 'READER_TOKENS', /also in GOVERNANCE_TOKENS/],
    [{ APP_TOKENS: 'shop:shared', ALERT_TOKENS: 'am:shared' }, 'ALERT_TOKENS', /also in APP_TOKENS/],
    [{ GOVERNANCE_TOKENS: 'ops:o1', ADMIN_ACTORS: 'ops,ops' }, 'ADMIN_ACTORS', /listed twice/],
    [{ GOVERNANCE_TOKENS: 'ops:o1', READER_TOKENS: 'rita:r1', ADMIN_ACTORS: 'rita' }, 'ADMIN_ACTORS', /not an operator/],
    [{ APPROVALS_REQUIRED: '0' }, 'APPROVALS_REQUIRED', /./],
    [{ APPROVAL_TTL_MINUTES: 'soon' }, 'APPROVAL_TTL_MINUTES', /./],
  ])('rejects role configuration %o naming %s', (env, variable, message) => {
    const error = fail(env);
    expect(error.message).toContain(variable);
    expect(error.message).toMatch(message);
  });

  it('refuses short tokens of every role in production', () => {
    const production = { NODE_ENV: 'production', DATABASE_URL: 'postgres://db/x', REDIS_URL: 'redis://r:6379', GOVERNANCE_TOKENS: `ops:${longToken}` };
    for (const variable of ['READER_TOKENS', 'APP_TOKENS', 'ALERT_TOKENS']) {
      expect(fail({ ...production, [variable]: 'x:short' }).message).toMatch(new RegExp(`${variable}.*24 characters`));
    }
  });

  it('does not ask the migrator for Redis or tokens', () => {
    expect(loadConfig({ NODE_ENV: 'production', DATABASE_URL: 'postgresql://db/x', AUDIT_HMAC_KEYS: `k1:${longToken}${longToken}` }, 'migrate').databaseUrl).toBe('postgresql://db/x');
  });

  it('requires AUDIT_HMAC_KEYS in production: the first key signs, every key verifies', () => {
    const production = { NODE_ENV: 'production', DATABASE_URL: 'postgres://db/x', REDIS_URL: 'redis://r:6379', GOVERNANCE_TOKENS: `ops:${longToken}` };
    expect(fail({ ...production }).message).toMatch(/AUDIT_HMAC_KEYS.*required/);
    expect(fail({ ...production, AUDIT_HMAC_KEYS: 'k1:short' }).message).toMatch(/AUDIT_HMAC_KEYS.*at least 32 characters/);
    expect(fail({ ...production, AUDIT_HMAC_KEYS: `nokeyid${longToken}` }).message).toMatch(/AUDIT_HMAC_KEYS.*keyid:key/);
    expect(fail({ ...production, AUDIT_HMAC_KEYS: `k1:${longToken}${longToken},k1:${longToken}x${longToken}` }).message).toMatch(/key id k1 is used/);
    // The public development key, under any id, is refused in production.
    expect(fail({ ...production, AUDIT_HMAC_KEYS: 'k1:valhalla-development-audit-key-not-a-secret' }).message).toMatch(/AUDIT_HMAC_KEYS.*public development key/);
    const config = loadConfig({ ...production, AUDIT_HMAC_KEYS: `k2:${longToken}${longToken}, k1:${longToken}:${longToken}` }, 'api');
    expect(config.auditKeyring.signing.id).toBe('k2');
    expect([...config.auditKeyring.byId.keys()]).toEqual(['k2', 'k1']);
    expect(config.auditKeyring.byId.get('k1')?.key).toBe(`${longToken}:${longToken}`);
    expect(loadConfig({}, 'api').auditKeyring.signing.id).toBe('dev');
  });

  it('bounds idle sockets beyond the stream heartbeat (SOCKET_IDLE_TIMEOUT_MS) and refuses a bound that would cut streams', () => {
    expect(loadConfig({}, 'api').socketIdleTimeoutMs).toBe(30_000);
    expect(loadConfig({ LIVE_HEARTBEAT_MS: '20000' }, 'api').socketIdleTimeoutMs).toBe(40_000);
    expect(loadConfig({ SOCKET_IDLE_TIMEOUT_MS: '5000', LIVE_HEARTBEAT_MS: '1000' }, 'api').socketIdleTimeoutMs).toBe(5_000);
    expect(fail({ SOCKET_IDLE_TIMEOUT_MS: '10000' }).message).toMatch(/SOCKET_IDLE_TIMEOUT_MS: must be longer than LIVE_HEARTBEAT_MS \(15000\)/);
    expect(fail({ SOCKET_IDLE_TIMEOUT_MS: 'forever' }).message).toMatch(/SOCKET_IDLE_TIMEOUT_MS/);
  });

  it('closes /metrics in production unless METRICS_TOKEN is set; outside production it is open', () => {
    const production = { NODE_ENV: 'production', DATABASE_URL: 'postgres://db/x', REDIS_URL: 'redis://r:6379', GOVERNANCE_TOKENS: `ops:${longToken}`, AUDIT_HMAC_KEYS: `k1:${longToken}${longToken}` };
    expect(loadConfig(production, 'api').metricsEnabled).toBe(false);
    expect(loadConfig({ ...production, METRICS_TOKEN: longToken }, 'api').metricsEnabled).toBe(true);
    expect(loadConfig({}, 'api').metricsEnabled).toBe(true);
  });

  it('reads the NOTIFICATION_* settings: a development key outside production, none in production unless set, the public key refused there', () => {
    const production = { NODE_ENV: 'production', DATABASE_URL: 'postgres://db/x', REDIS_URL: 'redis://r:6379', AUDIT_HMAC_KEYS: `k1:${longToken}${longToken}` };
    const defaults = loadConfig({}, 'worker').notifications;
    expect(defaults).toMatchObject({ allowedHosts: [], timeoutMs: 10_000, retryBaseMs: 1_000, retryMaxMs: 600_000, circuitThreshold: 5, deadLetterAfterSeconds: 259_200, concurrency: 8, pollMs: 5_000, retentionDays: 7 });
    expect(defaults.secretKeys?.current.id).toBe('dev');
    expect(loadConfig(production, 'worker').notifications.secretKeys).toBeUndefined();
    const key = Buffer.alloc(32, 7).toString('base64');
    const other = Buffer.alloc(32, 9).toString('base64url').replace(/=$/, '');
    const configured = loadConfig({ ...production, NOTIFICATION_SECRET_KEYS: `k2:${key}, k1:${other}` }, 'worker').notifications.secretKeys;
    expect(configured?.current.id).toBe('k2');
    expect([...(configured?.byId.keys() ?? [])]).toEqual(['k2', 'k1']);
    expect(fail({ NOTIFICATION_SECRET_KEYS: 'k1:c2hvcnQ=' }).message).toMatch(/NOTIFICATION_SECRET_KEYS.*entry 1 \(key id k1\).*32 bytes/);
    expect(fail({ NOTIFICATION_SECRET_KEYS: key }).message).toMatch(/NOTIFICATION_SECRET_KEYS.*keyid:base64/);
    expect(fail({ NOTIFICATION_SECRET_KEYS: `a:${key},a:${key}` }).message).toMatch(/key id a is used by another entry/);
    const devKey = loadConfig({}, 'api').notifications.secretKeys?.current.key.toString('base64') ?? '';
    expect(fail({ ...production, NOTIFICATION_SECRET_KEYS: `dev:${devKey}` }, 'worker').message).toMatch(/NOTIFICATION_SECRET_KEYS.*public development key/);
    expect(fail({ NOTIFICATION_SECRET_KEYS: 'k1:short' }).message).not.toContain('short');
  });

  it('parses NOTIFICATION_ALLOWED_HOSTS (host, host:port, [v6]:port, normalised like target URLs) and names a bad entry', () => {
    expect(loadConfig({ NOTIFICATION_ALLOWED_HOSTS: 'Hooks.Internal., 127.1:8080, [0:0::1]:9000, 10.0.0.5' }, 'api').notifications.allowedHosts).toEqual([
      { host: 'hooks.internal', port: undefined },
      { host: '127.0.0.1', port: 8080 },
      { host: '::1', port: 9000 },
      { host: '10.0.0.5', port: undefined },
    ]);
    expect(fail({ NOTIFICATION_ALLOWED_HOSTS: 'http://x' }).message).toMatch(/NOTIFICATION_ALLOWED_HOSTS: entry 1/);
    expect(fail({ NOTIFICATION_ALLOWED_HOSTS: 'ok, ::1' }).message).toMatch(/NOTIFICATION_ALLOWED_HOSTS: entry 2/);
    expect(fail({ NOTIFICATION_ALLOWED_HOSTS: 'x:0' }).message).toMatch(/port must be 1-65535/);
    expect(fail({ NOTIFICATION_RETRY_BASE_MS: '500', NOTIFICATION_RETRY_MAX_MS: '100' }).message).toMatch(/NOTIFICATION_RETRY_MAX_MS/);
    expect(fail({ NOTIFICATION_TIMEOUT_MS: '10' }).message).toMatch(/NOTIFICATION_TIMEOUT_MS/);
    expect(fail({ NOTIFICATION_CONSOLE_URL: 'javascript:alert(1)' }).message).toMatch(/NOTIFICATION_CONSOLE_URL/);
  });
});
