import { describe, expect, it } from 'vitest';
import { ConfigError } from '../errors/index.js';
import { loadConfig } from './loadConfig.js';
import { isHashTaggedPrefix } from './queuePrefix.js';

const problemsOf = (env: Record<string, string>): { field: string; message: string }[] => {
  try {
    loadConfig(env, 'worker');
  } catch (error) {
    if (error instanceof ConfigError) return error.details as { field: string; message: string }[];
    throw error;
  }
  throw new Error('expected a ConfigError');
};

describe('QUEUE_PREFIX', () => {
  it('defaults to bull, the keys of every earlier release, so an upgrade keeps its jobs', () => {
    const config = loadConfig({}, 'worker');
    expect(config.queuePrefix).toBe('bull');
    expect(config.deprecations).toEqual([]);
  });

  it('accepts a hash-tagged prefix', () => {
    expect(loadConfig({ QUEUE_PREFIX: '{valhalla}' }, 'worker').queuePrefix).toBe('{valhalla}');
    expect(loadConfig({ QUEUE_PREFIX: 'prod:{valhalla}' }, 'worker').queuePrefix).toBe('prod:{valhalla}');
  });

  it('keeps BULLMQ_PREFIX working as its deprecated name, and says so', () => {
    const config = loadConfig({ BULLMQ_PREFIX: 'legacy' }, 'worker');
    expect(config.queuePrefix).toBe('legacy');
    expect(config.deprecations).toEqual([expect.stringMatching(/BULLMQ_PREFIX is deprecated.*QUEUE_PREFIX/)]);
    // The same value under both names is not a conflict.
    expect(loadConfig({ BULLMQ_PREFIX: 'same', QUEUE_PREFIX: 'same' }, 'worker').queuePrefix).toBe('same');
  });

  it('refuses the two names with different values, naming both', () => {
    const [problem] = problemsOf({ QUEUE_PREFIX: '{valhalla}', BULLMQ_PREFIX: 'bull' });
    expect(problem?.field).toBe('QUEUE_PREFIX');
    expect(problem?.message).toMatch(/BULLMQ_PREFIX/);
  });

  it.each([['has space'], ['{}'], ['{a}{b}'], ['}a{'], ['a{b'], ['x'.repeat(101)], ['bull*']])('refuses %s, naming QUEUE_PREFIX', (prefix) => {
    expect(problemsOf({ QUEUE_PREFIX: prefix }).map((problem) => problem.field)).toEqual(['QUEUE_PREFIX']);
  });

  it('tells a hash tag as Redis Cluster hashes it', () => {
    expect(isHashTaggedPrefix('{valhalla}')).toBe(true);
    expect(isHashTaggedPrefix('a:{b}:c')).toBe(true);
    expect(isHashTaggedPrefix('bull')).toBe(false);
    expect(isHashTaggedPrefix('{}valhalla')).toBe(false);
  });
});

describe('DATABASE_URL', () => {
  it('refuses a libpq multi-host string, which node-postgres cannot follow, naming DATABASE_URL', () => {
    for (const url of ['postgresql://u:p@db1:5432,db2:5432/app?target_session_attrs=read-write', 'postgres://db1,db2/app']) {
      const [problem] = problemsOf({ DATABASE_URL: url });
      expect(problem?.field).toBe('DATABASE_URL');
      expect(problem?.message).toMatch(/several hosts/);
    }
    expect(problemsOf({ DATABASE_URL: 'postgresql://db:notaport/app' })).toEqual([{ field: 'DATABASE_URL', message: 'is not a valid URL' }]);
    expect(loadConfig({ DATABASE_URL: 'postgresql://u:p,w@db.internal:5432/app' }, 'worker').databaseUrl).toBe('postgresql://u:p,w@db.internal:5432/app');
  });
});

describe('Redis topology', () => {
  it('is one server from REDIS_URL by default', () => {
    expect(loadConfig({}, 'api').redis).toEqual({ kind: 'standalone', url: 'redis://127.0.0.1:6379' });
    expect(loadConfig({ REDIS_URL: 'rediss://:pw@r:6380' }, 'api').redis).toEqual({ kind: 'standalone', url: 'rediss://:pw@r:6380' });
  });

  it('is a Redis Cluster from REDIS_CLUSTER_NODES, with a hash-tagged prefix', () => {
    const config = loadConfig({ REDIS_CLUSTER_NODES: 'r1:7000, r2:7001,[::1]:7002', QUEUE_PREFIX: '{valhalla}', REDIS_PASSWORD: 'pw' }, 'api');
    expect(config.redis).toEqual({
      kind: 'cluster',
      nodes: [
        { host: 'r1', port: 7000 },
        { host: 'r2', port: 7001 },
        { host: '::1', port: 7002 },
      ],
      password: 'pw',
    });
  });

  it('refuses a Cluster without a hash-tagged prefix, naming QUEUE_PREFIX and REDIS_CLUSTER_NODES', () => {
    for (const env of [{ REDIS_CLUSTER_NODES: 'r1:7000' }, { REDIS_CLUSTER_NODES: 'r1:7000', QUEUE_PREFIX: 'valhalla' }] as Record<string, string>[]) {
      const problems = problemsOf(env);
      expect(problems).toHaveLength(1);
      expect(problems[0]?.field).toBe('QUEUE_PREFIX');
      expect(problems[0]?.message).toMatch(/REDIS_CLUSTER_NODES needs a hash-tagged prefix such as \{valhalla\}/);
    }
  });

  it('is a Sentinel group from REDIS_SENTINELS and REDIS_SENTINEL_MASTER', () => {
    const config = loadConfig(
      { REDIS_SENTINELS: 's1:26379,s2:26379,s3:26379', REDIS_SENTINEL_MASTER: 'valhalla', REDIS_PASSWORD: 'a', REDIS_SENTINEL_PASSWORD: 'b' },
      'api',
    );
    expect(config.redis).toEqual({
      kind: 'sentinel',
      sentinels: [
        { host: 's1', port: 26379 },
        { host: 's2', port: 26379 },
        { host: 's3', port: 26379 },
      ],
      masterName: 'valhalla',
      password: 'a',
      sentinelPassword: 'b',
    });
    // Sentinel does not need a hash tag.
    expect(config.queuePrefix).toBe('bull');
  });

  it.each([
    [{ REDIS_CLUSTER_NODES: 'r1', QUEUE_PREFIX: '{v}' }, 'REDIS_CLUSTER_NODES'],
    [{ REDIS_CLUSTER_NODES: 'r1:0', QUEUE_PREFIX: '{v}' }, 'REDIS_CLUSTER_NODES'],
    [{ REDIS_CLUSTER_NODES: 'r1:7000,r1:7000', QUEUE_PREFIX: '{v}' }, 'REDIS_CLUSTER_NODES'],
    [{ REDIS_CLUSTER_NODES: 'redis://r1:7000', QUEUE_PREFIX: '{v}' }, 'REDIS_CLUSTER_NODES'],
    [{ REDIS_SENTINELS: 's1:26379' }, 'REDIS_SENTINEL_MASTER'],
    [{ REDIS_SENTINELS: 's1:26379', REDIS_SENTINEL_MASTER: 'bad name' }, 'REDIS_SENTINEL_MASTER'],
    [{ REDIS_SENTINELS: 's1:26379,', REDIS_SENTINEL_MASTER: 'm' }, 'REDIS_SENTINELS'],
    [{ REDIS_SENTINEL_MASTER: 'm' }, 'REDIS_SENTINEL_MASTER'],
    [{ REDIS_SENTINEL_PASSWORD: 'p', REDIS_CLUSTER_NODES: 'r:1', QUEUE_PREFIX: '{v}' }, 'REDIS_SENTINEL_PASSWORD'],
    [{ REDIS_PASSWORD: 'p' }, 'REDIS_PASSWORD'],
    [{ REDIS_PASSWORD: 'p', REDIS_URL: 'redis://r:6379' }, 'REDIS_PASSWORD'],
    [{ REDIS_URL: 'redis://r:6379', REDIS_CLUSTER_NODES: 'r:7000', QUEUE_PREFIX: '{v}' }, 'REDIS_URL, REDIS_CLUSTER_NODES'],
    [{ REDIS_CLUSTER_NODES: 'r:7000', REDIS_SENTINELS: 's:26379', REDIS_SENTINEL_MASTER: 'm', QUEUE_PREFIX: '{v}' }, 'REDIS_CLUSTER_NODES, REDIS_SENTINELS'],
  ])('refuses %o, naming %s', (env, field) => {
    expect(problemsOf(env).map((problem) => problem.field)).toContain(field);
  });

  it('requires a topology in production, accepting any of the three', () => {
    const production = { NODE_ENV: 'production', DATABASE_URL: 'postgres://db/x', AUDIT_HMAC_KEYS: `k1:${'k'.repeat(40)}` };
    expect(problemsOf(production).find((problem) => problem.field === 'REDIS_URL')?.message).toMatch(/REDIS_CLUSTER_NODES.*REDIS_SENTINELS/);
    expect(loadConfig({ ...production, REDIS_CLUSTER_NODES: 'r:7000', QUEUE_PREFIX: '{v}' }, 'worker').redis.kind).toBe('cluster');
    expect(loadConfig({ ...production, REDIS_SENTINELS: 's:26379', REDIS_SENTINEL_MASTER: 'm' }, 'worker').redis.kind).toBe('sentinel');
  });
});
