import type { VerificationCheck } from '@valhalla/contract';
import { measureCheck, type CheckPolicy } from './measureCheck.js';
import { probeApi } from './probeApi.js';
import { MeasurementUnavailable } from './MeasurementUnavailable.js';

export const RELEASE_SKEW_CHECK = 'api and worker run the same release';

/** The api's `/health` reports its release; it must be the worker's (no version skew after a deploy). */
export const checkReleaseSkew = (apiUrl: string, release: string, policy: CheckPolicy & { timeoutMs: number }): Promise<VerificationCheck> =>
  measureCheck(RELEASE_SKEW_CHECK, policy, async () => {
    const { probe, status, body } = await probeApi(apiUrl, '/health', { timeoutMs: policy.timeoutMs });
    const apiRelease = (body as { release?: unknown } | null)?.release;
    if (typeof apiRelease !== 'string') throw new MeasurementUnavailable(`${probe} answered ${status} without a release`);
    return apiRelease === release
      ? { ok: true, detail: `api and worker run release ${release}` }
      : { ok: false, detail: `api runs release ${apiRelease}, this worker ${release}` };
  });
