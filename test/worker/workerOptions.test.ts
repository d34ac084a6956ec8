import { describe, expect, it } from 'vitest';
import { ConfigError, loadConfig } from '../../packages/core/src/index.js';
import { createFaultInjection } from '../../apps/worker/src/index.js';
import { startNodeProcess } from '../helpers/processes.js';
import { WORKER_MAIN } from './support/workerHarness.js';

const configErrorOf = (env: Record<string, string>) => {
  try {
    loadConfig(env, 'worker');
  } catch (error) {
    return error as ConfigError;
  }
  throw new Error('expected a ConfigError');
};

const faultOf = (spec: string) => {
  const fault = loadConfig({ WORKER_FAULT: spec }, 'worker').workerFault;
  if (fault === undefined) throw new Error(`WORKER_FAULT=${spec} parsed to nothing`);
  return createFaultInjection(fault);
};

describe('worker-only options', () => {
  it('are inert when unset: no fault injection, default tuning, default migrations folder', () => {
    expect(loadConfig({}, 'worker')).toMatchObject({
      migrationsDir: undefined,
      workerTuning: { lockDurationMs: 30_000, stalledIntervalMs: 15_000, maxStalledCount: 2, reconcileIntervalMs: 2_000, reconcileGraceMs: 5_000 },
      workerFault: undefined,
      verifyIntervalSeconds: 900,
      driftAction: 'alert',
      verifyApiToken: undefined,
    });
  });

  it('parse the watchdog settings and refuse bad ones, naming the variable', () => {
    expect(loadConfig({ VERIFY_INTERVAL_SECONDS: '0', DRIFT_ACTION: 'engage', VERIFY_API_TOKEN: 't' }, 'worker')).toMatchObject({
      verifyIntervalSeconds: 0,
      driftAction: 'engage',
      verifyApiToken: 't',
    });
    expect(() => loadConfig({ VERIFY_INTERVAL_SECONDS: '-1' }, 'worker')).toThrow(/VERIFY_INTERVAL_SECONDS/);
    expect(() => loadConfig({ DRIFT_ACTION: 'panic' }, 'worker')).toThrow(/DRIFT_ACTION/);
  });

  it('parse the tuning variables and the migrations folder', () => {
    const config = loadConfig({ MIGRATIONS_DIR: '/tmp/m', WORKER_LOCK_DURATION_MS: '2000', WORKER_STALLED_INTERVAL_MS: '1000', WORKER_MAX_STALLED_COUNT: '3' }, 'worker');
    expect(config).toMatchObject({ migrationsDir: '/tmp/m', workerTuning: { lockDurationMs: 2000, stalledIntervalMs: 1000, maxStalledCount: 3 } });
  });

  it('name the variable when one is invalid', () => {
    expect(configErrorOf({ WORKER_LOCK_DURATION_MS: 'soon' }).details?.[0]?.field).toBe('WORKER_LOCK_DURATION_MS');
    expect(configErrorOf({ WORKER_MAX_STALLED_COUNT: '0' }).details?.[0]?.field).toBe('WORKER_MAX_STALLED_COUNT');
    expect(configErrorOf({ WORKER_FAULT: 'crash-sometimes' }).details?.[0]?.field).toBe('WORKER_FAULT');
    expect(configErrorOf({ WORKER_FAULT: 'crash-before-commit:1' }).message).toMatch(/WORKER_FAULT: must be crash-after-commit/);
  });

  it('refuse the test-only fault injection in production', () => {
    const production = { NODE_ENV: 'production', DATABASE_URL: 'postgres://db/x', REDIS_URL: 'redis://r:6379', AUDIT_HMAC_KEYS: `k1:${'x'.repeat(48)}` };
    expect(loadConfig(production, 'worker').workerFault).toBeUndefined();
    const error = configErrorOf({ ...production, WORKER_FAULT: 'crash-after-commit:1' });
    expect(error).toBeInstanceOf(ConfigError);
    expect(error.details).toEqual([{ field: 'WORKER_FAULT', message: 'is a test-only setting and is refused when NODE_ENV=production' }]);
  });

  it('understand crash-after-commit by count or by job id', () => {
    expect(faultOf('crash-after-commit:2').description).toBe('crash-after-commit:2');
    expect(faultOf('crash-after-commit:job=abc-1').description).toBe('crash-after-commit:job=abc-1');
    expect(faultOf('crash-after-commit:job=abc-1').afterCommit('another-job')).toBeUndefined();
    expect(faultOf('crash-after-commit:0').afterCommit('any')).toBeUndefined();
  });

  it('make the worker exit 78 at startup naming the invalid variable', async () => {
    const worker = startNodeProcess(WORKER_MAIN, [], { WORKER_STALLED_INTERVAL_MS: '-5' }, 'misconfigured worker');
    expect((await worker.exited).code).toBe(78);
    expect(worker.output()).toContain('WORKER_STALLED_INTERVAL_MS');
    const shared = startNodeProcess(WORKER_MAIN, [], { WORKER_CONCURRENCY: 'many' }, 'misconfigured worker');
    expect((await shared.exited).code).toBe(78);
    expect(shared.output()).toContain('WORKER_CONCURRENCY');
  });
});
