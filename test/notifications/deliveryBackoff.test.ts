import { describe, expect, it } from 'vitest';
import { deliveryDelayMs } from '../../apps/worker/src/notifications/deliveryBackoff.js';

const settings = { retryBaseMs: 1_000, retryMaxMs: 60_000, circuitThreshold: 5 };

describe('delivery backoff', () => {
  it('doubles from the base, with equal jitter (half fixed, half random), capped', () => {
    expect([1, 2, 3, 4].map((failures) => deliveryDelayMs(failures, settings, { random: () => 1 }))).toEqual([1_000, 2_000, 4_000, 8_000]);
    expect([1, 2, 3, 4].map((failures) => deliveryDelayMs(failures, settings, { random: () => 0 }))).toEqual([500, 1_000, 2_000, 4_000]);
    expect(deliveryDelayMs(4, { ...settings, retryMaxMs: 3_000 }, { random: () => 1 })).toBe(3_000);
  });

  it('waits the cap once the circuit is open, and honours a longer Retry-After within the cap', () => {
    expect(deliveryDelayMs(5, settings, { random: () => 1 })).toBe(60_000);
    expect(deliveryDelayMs(500, settings, { random: () => 0 })).toBe(30_000);
    expect(deliveryDelayMs(1, settings, { random: () => 0, retryAfterMs: 20_000 })).toBe(20_000);
    expect(deliveryDelayMs(1, settings, { random: () => 0, retryAfterMs: 10 * 60_000 })).toBe(60_000);
  });
});
