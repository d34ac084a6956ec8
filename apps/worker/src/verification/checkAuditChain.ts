import { runAuditChainChecks, type AuditKeyring, type AuditVerificationMode, type CommonQueryMethods } from '@valhalla/core';
import { type VerificationCheck } from '@valhalla/contract';

export { AUDIT_CHAIN_CHECK } from '@valhalla/core';

/**
 * The audit checks of a verification job: the keyed chain (full, or incremental from the last checkpoint) and the
 * writes made outside the product among the checked rows. See runAuditChainChecks.
 */
export const checkAuditChain = async (
  db: CommonQueryMethods,
  keyring: AuditKeyring,
  mode: AuditVerificationMode,
): Promise<VerificationCheck[]> => runAuditChainChecks(db, keyring, { mode });
