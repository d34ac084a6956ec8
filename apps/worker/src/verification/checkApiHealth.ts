import type { VerificationCheck } from '@valhalla/contract';
import { measureCheck, type CheckPolicy } from './measureCheck.js';
import { probeApi } from './probeApi.js';

export const API_HEALTH_CHECK = 'api /health answers 200';

export type ApiHealthOptions = {
  /** Per try; a hung API must not hold the verification job (default 2 s). */
  timeoutMs?: number;
  /** Measurements before the check gives up (default 3): a deploy may still be starting the API. */
  tries?: number;
  /** Pause between tries (default 500 ms). */
  retryDelayMs?: number;
};

/** The API probes' policy from the options (one policy for the health, release and runbook probes). */
export const apiProbePolicy = (options: ApiHealthOptions = {}): CheckPolicy & { timeoutMs: number } => {
  const count = options.tries ?? 3;
  return { count, intervalMs: options.retryDelayMs ?? 500, failureLimit: count - 1, timeoutMs: options.timeoutMs ?? 2_000 };
};

/**
 * `GET {apiUrl}/health` must answer 200. `failed` when it keeps answering anything else; `inconclusive` when it
 * cannot be reached at all.
 */
export const checkApiHealth = (apiUrl: string, options: ApiHealthOptions = {}): Promise<VerificationCheck> => {
  const policy = apiProbePolicy(options);
  return measureCheck(API_HEALTH_CHECK, policy, async () => {
    const { probe, status } = await probeApi(apiUrl, '/health', { timeoutMs: policy.timeoutMs });
    return status === 200 ? { ok: true, detail: `${probe} answered 200` } : { ok: false, detail: `${probe} answered ${status}` };
  });
};
