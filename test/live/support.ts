import { randomUUID } from 'node:crypto';
import { DEVELOPMENT_AUDIT_KEY, applyGovernanceChange, createAuditKeyring, sql, type DatabasePool } from '../../packages/core/src/index.js';
import { GOVERNANCE_ACTIONS, type ChangeResult, type GovernanceAction, type LiveStateBody } from '../../packages/contract/src/index.js';
import type { ApiHarness } from '../api/support.js';

export { GOVERNANCE_ACTIONS };

/** The key the test apis and workers sign audit entries with (no AUDIT_HMAC_KEYS outside production). */
const KEYRING = createAuditKeyring([DEVELOPMENT_AUDIT_KEY]);

/**
 * Runs one governance change through the same transaction the worker runs (no queue: these tests are about what
 * happens after the commit).
 */
export const applyChange = async (
  pool: DatabasePool,
  action: GovernanceAction,
  extra: { metadata?: { backend_complete?: boolean; notes?: string; version?: string }; reason?: string } = {},
): Promise<ChangeResult> => {
  const payload = {
    action,
    actor: 'live-test',
    reason: extra.reason ?? `test ${action}`,
    ...(extra.metadata === undefined ? {} : { metadata: extra.metadata }),
  } as Parameters<typeof applyGovernanceChange>[1]['payload'];
  const { result } = await applyGovernanceChange(pool, { jobId: randomUUID(), payload }, { keyring: KEYRING, migrationHead: 'test-head' });
  return result;
};

/** The audit id of the newest applied change: what `version` must be. */
export const newestAppliedId = async (pool: DatabasePool): Promise<number> =>
  Number(await pool.oneFirst(sql.unsafe`SELECT COALESCE(max(id), 0) FROM public.governance_audit_log WHERE kind = 'change' AND outcome = 'applied'`));

/** Listens on a free local port (SSE needs a real socket) and returns the base URL. */
export const listenOnFreePort = async (harness: ApiHarness): Promise<string> => {
  const address = await harness.app.listen({ port: 0, host: '127.0.0.1' });
  return address;
};

export const parseBody = (data: string): LiveStateBody => JSON.parse(data) as LiveStateBody;
