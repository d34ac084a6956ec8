import type { VerificationCheck } from '@valhalla/contract';
import { measureCheck, type CheckPolicy } from './measureCheck.js';
import { probeApi } from './probeApi.js';
import { MeasurementUnavailable } from './MeasurementUnavailable.js';

export const RUNBOOK_STATUS_CHECK = 'runbook status endpoint answers';

/**
 * The origin report's post-deployment check: `GET /api/governance/runbook/status` answers 200 with the state rows and
 * the migration head this worker runs.
 */
export const checkRunbookStatus = (
  apiUrl: string,
  token: string,
  migrationHead: string,
  policy: CheckPolicy & { timeoutMs: number },
): Promise<VerificationCheck> =>
  measureCheck(RUNBOOK_STATUS_CHECK, policy, async () => {
    const { probe, status, body } = await probeApi(apiUrl, '/api/governance/runbook/status', { timeoutMs: policy.timeoutMs, token });
    // 5xx: the api is up but cannot answer yet (starting, dependency down): not a verdict on the deploy.
    if (status >= 500) throw new MeasurementUnavailable(`${probe} answered ${status}`);
    if (status !== 200) return { ok: false, detail: `${probe} answered ${status}` };
    const b = body as { go_live_state?: { id?: unknown }; system_metadata?: { id?: unknown }; migrations?: { head?: unknown } } | null;
    if (b?.go_live_state?.id !== 1 || b.system_metadata?.id !== 1) return { ok: false, detail: `${probe}: row 1 of the state tables is missing` };
    if (b.migrations?.head !== migrationHead) return { ok: false, detail: `${probe}: api reports head ${String(b.migrations?.head)}, this worker ${migrationHead}` };
    return { ok: true, detail: `${probe} answered 200 with the state and head ${migrationHead}` };
  });
