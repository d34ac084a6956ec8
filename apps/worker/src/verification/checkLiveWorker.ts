import { listLiveWorkers, type CommonQueryMethods } from '@valhalla/core';
import { type VerificationCheck } from '@valhalla/contract';
import { measureCheck, type CheckPolicy } from './measureCheck.js';

export const LIVE_WORKER_CHECK = 'a worker of this release is alive';

/** Some worker of `release` wrote its heartbeat within `withinMs` (Render has no health check for workers). */
export const checkLiveWorker = (db: CommonQueryMethods, release: string, withinMs: number, policy: CheckPolicy): Promise<VerificationCheck> =>
  measureCheck(LIVE_WORKER_CHECK, policy, async () => {
    const workers = await listLiveWorkers(db, withinMs);
    const ours = workers.filter((worker) => worker.release === release);
    if (ours.length > 0) return { ok: true, detail: `${ours.length} worker(s) of release ${release} seen within ${withinMs} ms` };
    const others = [...new Set(workers.map((worker) => worker.release))];
    return {
      ok: false,
      detail: `no heartbeat of release ${release} within ${withinMs} ms${others.length > 0 ? ` (live releases: ${others.join(', ')})` : ''}`,
    };
  });
