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

  it('does not ask the migrator for Redis or tokens', () => {
    expect(loadConfig({ NODE_ENV: 'production', DATABASE_URL: 'postgresql://db/x', AUDIT_HMAC_KEYS: `k1:${longToken}${longToken}` }, 'migrate').databaseUrl).toBe('postgresql://db/x');
  });

  it('requires AUDIT_HMAC_KEYS in production: the first key signs, every key verifies', () => {
    const production = { NODE_ENV: 'production', DATABASE_URL: 'postgres://db/x', REDIS_URL: 'redis://r:6379', GOVERNANCE_TOKENS: `ops:${longToken}` };
    expect(fail({ ...production }).message).toMatch(/AUDIT_HMAC_KEYS.*required/);
    expect(fail({ ...production, AUDIT_HMAC_KEYS: 'k1:short' }).message).toMatch(/AUDIT_HMAC_KEYS.*at least 32 characters/);
    expect(fail({ ...production, AUDIT_HMAC_KEYS: `nokeyid${longToken}` }).message).toMatch(/AUDIT_HMAC_KEYS.*keyid:key/);
    expect(fail({ ...production, AUDIT_HMAC_KEYS: `k1:${longToken}${longToken},k1:${longToken}x${longToken}` }).message).toMatch(/key id k1 is used/);
    const config = loadConfig({ ...production, AUDIT_HMAC_KEYS: `k2:${longToken}${longToken}, k1:${longToken}:${longToken}` }, 'api');
    expect(config.auditKeyring.signing.id).toBe('k2');
    expect([...config.auditKeyring.byId.keys()]).toEqual(['k2', 'k1']);
    expect(config.auditKeyring.byId.get('k1')?.key).toBe(`${longToken}:${longToken}`);
    expect(loadConfig({}, 'api').auditKeyring.signing.id).toBe('dev');
  });
});
