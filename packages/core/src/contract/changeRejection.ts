import type { ChangeResult } from '../state/model.js';
import { jobFailureOf, type JobFailure } from './jobFailure.js';

/**
 * The failure record of a change the worker committed as rejected (the audit entry names the unmet conditions):
 * EXPIRED when it outlived CHANGE_MAX_AGE_SECONDS, else PRECONDITION_FAILED. Null for an applied or unchanged change.
 */
export const changeRejectionFailure = (result: Pick<ChangeResult, 'outcome' | 'action' | 'unmet' | 'rejectedAs'>): JobFailure | null => {
  if (result.outcome !== 'rejected') return null;
  if (result.rejectedAs === 'EXPIRED') {
    return jobFailureOf('EXPIRED', `${result.action} was not applied within the maximum age of a change (CHANGE_MAX_AGE_SECONDS); submit it again if it is still wanted`);
  }
  return jobFailureOf('PRECONDITION_FAILED', `${result.action} rejected, unmet: ${result.unmet.join(', ')}`);
};
