import { findMissingSeedRows, type CommonQueryMethods } from '@valhalla/core';
import { type VerificationCheck } from '@valhalla/contract';
import { describeError } from './describeError.js';

export const SEED_ROWS_CHECK = 'seed rows exist';

/** Row 1 of system_metadata and go_live_state: every governance change locks them, so without them none can run. */
export const checkSeedRows = async (db: CommonQueryMethods): Promise<VerificationCheck> => {
  try {
    const missing = await findMissingSeedRows(db);
    return missing.length === 0
      ? { name: SEED_ROWS_CHECK, status: 'passed', detail: 'row 1 of system_metadata and go_live_state present' }
      : { name: SEED_ROWS_CHECK, status: 'failed', detail: `row 1 missing in: ${missing.join(', ')}` };
  } catch (error) {
    return { name: SEED_ROWS_CHECK, status: 'error', detail: describeError(error) };
  }
};
