import { findBrokenAuditLink, type CommonQueryMethods, type VerificationCheck } from '@valhalla/core';
import { describeError } from './describeError.js';

export const AUDIT_CHAIN_CHECK = 'audit log hash chain intact';

/** Recomputes the audit log's hash chain: an edit made with the append-only triggers disabled shows up here. */
export const checkAuditChain = async (db: CommonQueryMethods): Promise<VerificationCheck> => {
  try {
    const broken = await findBrokenAuditLink(db);
    return broken === null
      ? { name: AUDIT_CHAIN_CHECK, status: 'passed', detail: 'every row links to the previous one and matches its hash' }
      : { name: AUDIT_CHAIN_CHECK, status: 'failed', detail: `row ${broken.id}: ${broken.problem}` };
  } catch (error) {
    return { name: AUDIT_CHAIN_CHECK, status: 'error', detail: describeError(error) };
  }
};
