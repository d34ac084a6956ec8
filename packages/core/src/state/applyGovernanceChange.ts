import type { DatabasePool } from 'slonik';
import { applyGovernanceBatch, type BatchOptions, type GovernanceChangeExecution, type GovernanceChangeRequest } from './applyGovernanceBatch.js';

export type { BatchOptions, GovernanceChangeExecution, GovernanceChangeRequest } from './applyGovernanceBatch.js';

/**
 * Executes one governance change exactly once per job id: a batch of one (see applyGovernanceBatch), so a change
 * applied alone and one applied in a batch go through the same decisions and the same write. Used by the api, which
 * applies engages and disables in the request, and by tests. Safe to re-run: database work only.
 * @throws RetryableDatabaseError on lost connections or exhausted serialization retries; InvalidPayloadError for
 *   text PostgreSQL cannot store; whatever else failed the transaction. Entries are signed with the options' keyring.
 */
export const applyGovernanceChange = async (
  pool: DatabasePool,
  request: GovernanceChangeRequest,
  options: BatchOptions,
): Promise<GovernanceChangeExecution> => {
  const [outcome] = await applyGovernanceBatch(pool, [request], options);
  if (outcome === undefined) throw new Error('applyGovernanceBatch returned no outcome');
  if (!outcome.ok) throw outcome.error;
  return outcome.execution;
};
