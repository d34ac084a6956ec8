import type { VerificationCheck } from '@valhalla/core';
import { describeError } from './describeError.js';

export const API_HEALTH_CHECK = 'api /health answers 200';

export type ApiHealthOptions = {
  /** Per try; a hung API must not hold the verification job (default 2 s). */
  timeoutMs?: number;
  /** Tries before the check fails (default 3): a deploy may still be starting the API. */
  tries?: number;
  /** Pause between tries (default 500 ms). */
  retryDelayMs?: number;
};

/**
 * `GET {apiUrl}/health` must answer 200. `failed` when it answers anything else; `error` when it cannot be reached
 * (after the last try).
 */
export const checkApiHealth = async (apiUrl: string, options: ApiHealthOptions = {}): Promise<VerificationCheck> => {
  const tries = options.tries ?? 3;
  const url = `${apiUrl.replace(/\/+$/, '')}/health`;
  let last: VerificationCheck = { name: API_HEALTH_CHECK, status: 'error', detail: 'not tried' };
  for (let attempt = 1; attempt <= tries; attempt += 1) {
    try {
      const response = await fetch(url, { signal: AbortSignal.timeout(options.timeoutMs ?? 2_000) });
      await response.body?.cancel();
      if (response.status === 200) return { name: API_HEALTH_CHECK, status: 'passed', detail: `GET ${url} answered 200` };
      last = { name: API_HEALTH_CHECK, status: 'failed', detail: `GET ${url} answered ${response.status} (try ${attempt} of ${tries})` };
    } catch (error) {
      last = { name: API_HEALTH_CHECK, status: 'error', detail: `GET ${url} failed: ${describeError(error)} (try ${attempt} of ${tries})` };
    }
    if (attempt < tries) await new Promise((resolve) => setTimeout(resolve, options.retryDelayMs ?? 500));
  }
  return last;
};
