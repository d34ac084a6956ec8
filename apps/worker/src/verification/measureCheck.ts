import type { VerificationCheck } from '@valhalla/contract';
import { describeError } from './describeError.js';

/**
 * How a check measures (Argo Rollouts' AnalysisRun metric): up to `count` measurements `intervalMs` apart; more
 * than `failureLimit` failed measurements make the check failed; a measurement that passes ends it as passed (a
 * flaky probe that answers on retry passes). When the tries run out with no verdict, because measurements could not
 * be taken (threw), the check is inconclusive: it proves nothing either way.
 */
export type CheckPolicy = { count: number; intervalMs: number; failureLimit: number };

/** One measurement: a verdict with what was seen, or a throw when nothing could be measured. */
export type Measurement = { ok: boolean; detail: string };

export const measureCheck = async (name: string, policy: CheckPolicy, measure: () => Promise<Measurement>): Promise<VerificationCheck> => {
  let failures = 0;
  let last = 'not measured';
  for (let attempt = 1; attempt <= policy.count; attempt += 1) {
    try {
      const measurement = await measure();
      if (measurement.ok) return { name, status: 'passed', detail: `${measurement.detail} (measurement ${attempt} of ${policy.count})` };
      failures += 1;
      last = measurement.detail;
      if (failures > policy.failureLimit) {
        return { name, status: 'failed', detail: `${measurement.detail} (${failures} failed measurement(s), limit ${policy.failureLimit})` };
      }
    } catch (error) {
      last = `could not measure: ${describeError(error)}`;
    }
    if (attempt < policy.count) await new Promise((resolve) => setTimeout(resolve, policy.intervalMs));
  }
  return { name, status: 'inconclusive', detail: `${last} (after ${policy.count} measurement(s))` };
};
