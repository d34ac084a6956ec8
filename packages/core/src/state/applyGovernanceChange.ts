import type { DatabasePool } from 'slonik';
import type { AuditKeyring } from './audit/auditKeyring.js';
import { applyGovernanceBatch, type GovernanceChangeExecution, type GovernanceChangeRequest } from './applyGovernanceBatch.js';

export type { GovernanceChangeExecution, GovernanceChangeRequest } from './applyGovernanceBatch.js';

/**
 * Executes one governance change exactly once per job id: a batch of one (see applyGovernanceBatch), so a change
 * applied alone and one applied in a batch go through the same decisions and the same write. Used by the api's
 * break-glass path and by tests. Safe to re-run: database work only.
 * @throws RetryableDatabaseError on lost connections or exhausted serialization retries; InvalidPayloadError for
 *   text PostgreSQL cannot store; whatever else failed the transaction. Entries are signed with `keyring`'s signing key.
 */
export const applyGovernanceChange = async (
  pool: DatabasePool,
  request: GovernanceChangeRequest,
  keyring: AuditKeyring,
): Promise<GovernanceChangeExecution> => {
  const [outcome] = await applyGovernanceBatch(pool, [request], keyring);
  if (outcome === undefined) throw new Error('applyGovernanceBatch returned no outcome');
  if (!outcome.ok) throw outcome.error;
  return outcome.execution;
};
