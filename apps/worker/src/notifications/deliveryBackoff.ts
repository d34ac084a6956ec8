import type { NotificationSettings } from '@valhalla/core';

/**
 * How long a subscription waits after its `failures`-th consecutive failure: exponential from
 * NOTIFICATION_RETRY_BASE_MS, capped at NOTIFICATION_RETRY_MAX_MS, with "equal jitter" (half the delay fixed, half
 * random) so that receivers recovering from one outage are not hit by every subscription at the same instant. Once
 * the circuit is open (NOTIFICATION_CIRCUIT_THRESHOLD failures in a row) every wait is the cap: each attempt is a probe.
 * A receiver's Retry-After (429, 503) is honoured when longer, within the cap.
 */
export const deliveryDelayMs = (
  failures: number,
  settings: Pick<NotificationSettings, 'retryBaseMs' | 'retryMaxMs' | 'circuitThreshold'>,
  options: { retryAfterMs?: number | undefined; random?: () => number } = {},
): number => {
  const random = options.random ?? Math.random;
  const exponent = Math.min(Math.max(0, failures - 1), 40);
  const full = failures >= settings.circuitThreshold ? settings.retryMaxMs : Math.min(settings.retryMaxMs, settings.retryBaseMs * 2 ** exponent);
  const jittered = full / 2 + random() * (full / 2);
  return Math.round(Math.min(settings.retryMaxMs, Math.max(jittered, options.retryAfterMs ?? 0)));
};
