import { describe, expect, it } from 'vitest';
import { ConfigError } from '../../packages/core/src/index.js';
import { parseFaultInjection, parseWorkerOptions } from '../../apps/worker/src/index.js';
import { startNodeProcess } from '../helpers/processes.js';
import { WORKER_MAIN } from './support/workerHarness.js';

const configErrorOf = (env: Record<string, string>) => {
  try {
    parseWorkerOptions(env);
  } catch (error) {
    return error as ConfigError;
  }
  throw new Error('expected a ConfigError');
};

describe('worker-only options', () => {
  it('are inert when unset: no fault injection, default tuning, default migrations folder', () => {
    expect(parseWorkerOptions({})).toEqual({
      migrationsDir: undefined,
      tuning: {},
      fault: undefined,
      verifyIntervalSeconds: 900,
      driftAction: 'alert',
      verifyApiToken: undefined,
    });
  });

  it('parse the watchdog settings and refuse bad ones, naming the variable', () => {
    expect(parseWorkerOptions({ VERIFY_INTERVAL_SECONDS: '0', DRIFT_ACTION: 'engage', VERIFY_API_TOKEN: 't' })).toMatchObject({
      verifyIntervalSeconds: 0,
      driftAction: 'engage',
      verifyApiToken: 't',
    });
    expect(() => parseWorkerOptions({ VERIFY_INTERVAL_SECONDS: '-1' })).toThrow(/VERIFY_INTERVAL_SECONDS/);
    expect(() => parseWorkerOptions({ DRIFT_ACTION: 'panic' })).toThrow(/DRIFT_ACTION/);
  });

  it('parse the tuning variables and the migrations folder', () => {
    const options = parseWorkerOptions({ MIGRATIONS_DIR: '/tmp/m', WORKER_LOCK_DURATION_MS: '2000', WORKER_STALLED_INTERVAL_MS: '1000', WORKER_MAX_STALLED_COUNT: '3' });
    expect(options).toMatchObject({ migrationsDir: '/tmp/m', tuning: { lockDurationMs: 2000, stalledIntervalMs: 1000, maxStalledCount: 3 } });
  });

  it('name the variable when one is invalid', () => {
    expect(configErrorOf({ WORKER_LOCK_DURATION_MS: 'soon' }).details?.[0]?.field).toBe('WORKER_LOCK_DURATION_MS');
    expect(configErrorOf({ WORKER_MAX_STALLED_COUNT: '0' }).details?.[0]?.field).toBe('WORKER_MAX_STALLED_COUNT');
    expect(configErrorOf({ WORKER_FAULT: 'crash-sometimes' }).details?.[0]?.field).toBe('WORKER_FAULT');
  });

  it('refuse the test-only fault injection in production', () => {
    const error = configErrorOf({ NODE_ENV: 'production', WORKER_FAULT: 'crash-after-commit:1' });
    expect(error).toBeInstanceOf(ConfigError);
    expect(error.message).toContain('WORKER_FAULT');
  });

  it('understand crash-after-commit by count or by job id', () => {
    expect(parseFaultInjection('crash-after-commit:2')?.description).toBe('crash-after-commit:2');
    expect(parseFaultInjection('crash-after-commit:job=abc-1')?.description).toBe('crash-after-commit:job=abc-1');
    expect(parseFaultInjection('crash-after-commit:job=abc-1')?.afterCommit('another-job')).toBeUndefined();
    expect(parseFaultInjection('crash-after-commit:0')?.afterCommit('any')).toBeUndefined();
    expect(parseFaultInjection('crash-before-commit:1')).toBeUndefined();
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
