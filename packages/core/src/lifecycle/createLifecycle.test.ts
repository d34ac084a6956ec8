import { describe, expect, it } from 'vitest';
import { createLogger } from '../logger/index.js';
import { createLifecycle } from './createLifecycle.js';

const logger = createLogger({ name: 'lifecycle-test', level: 'silent' });

describe('createLifecycle', () => {
  it('closes in reverse order of registration, every step even after a failure or a timeout, once', async () => {
    const lifecycle = createLifecycle(logger);
    const ran: string[] = [];
    lifecycle.add('pool', () => ran.push('pool'));
    lifecycle.add('redis', () => {
      ran.push('redis');
      throw new Error('redis is down');
    });
    lifecycle.add('stuck', () => new Promise(() => ran.push('stuck')), { timeoutMs: 20 });
    lifecycle.add('server', async () => ran.push('server'));
    const first = lifecycle.close();
    expect(lifecycle.closing).toBe(true);
    expect(lifecycle.close()).toBe(first);
    expect(await first).toEqual({ completed: ['server', 'pool'], failed: ['stuck', 'redis'] });
    expect(ran).toEqual(['server', 'stuck', 'redis', 'pool']);
  });

  it('closes at once a resource registered after the shutdown started', async () => {
    const lifecycle = createLifecycle(logger);
    await lifecycle.close();
    let closed = false;
    lifecycle.add('late', () => {
      closed = true;
    });
    await new Promise((resolve) => setImmediate(resolve));
    expect(closed).toBe(true);
  });
});
