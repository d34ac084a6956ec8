import { describe, expect, it } from 'vitest';
import { TimeoutError, withTimeout } from './withTimeout.js';

describe('withTimeout', () => {
  it('settles as the promise does within the deadline', async () => {
    await expect(withTimeout(Promise.resolve(42), 1_000, 'answer')).resolves.toBe(42);
    await expect(withTimeout(Promise.reject(new Error('refused')), 1_000, 'answer')).rejects.toThrow('refused');
  });

  it('rejects with a TimeoutError naming what was awaited once the deadline passed', async () => {
    const error = await withTimeout(new Promise(() => {}), 20, 'the slow thing').catch((caught: unknown) => caught);
    expect(error).toBeInstanceOf(TimeoutError);
    expect(error).toMatchObject({ what: 'the slow thing', timeoutMs: 20, message: 'the slow thing did not settle within 20 ms' });
  });
});
