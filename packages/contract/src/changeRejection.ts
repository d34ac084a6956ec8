import type { ChangeResult } from './stateSchemas.js';
import { jobFailureOf, type JobFailure } from './jobFailure.js';

/**
 * The failure record of a change the worker committed as rejected (the audit entry names the unmet conditions):
 * EXPIRED when it outlived CHANGE_MAX_AGE_SECONDS, SUPERSEDED when an engage or disable created after it was
 * applied first, else PRECONDITION_FAILED. Null for an applied or unchanged change.
 */
export const changeRejectionFailure = (result: Pick<ChangeResult, 'outcome' | 'action' | 'unmet' | 'rejectedAs'>): JobFailure | null => {
  if (result.outcome !== 'rejected') return null;
  if (result.rejectedAs === 'EXPIRED') {
    return jobFailureOf('EXPIRED', `${result.action} was not applied within the maximum age of a change (CHANGE_MAX_AGE_SECONDS); submit it again if it is still wanted`);
  }
  if (result.rejectedAs === 'ENQUEUE_UNCONFIRMED') {
    return jobFailureOf('ENQUEUE_UNCONFIRMED', `${result.action} was voided: the api could not confirm its acceptance and answered 503, so it is never applied; submit it again`);
  }
  if (result.rejectedAs === 'SUPERSEDED') {
    return jobFailureOf('SUPERSEDED', `${result.action} rejected: it was created before the latest kill-switch engage or go-live disable, which was applied first`);
  }
  return jobFailureOf('PRECONDITION_FAILED', `${result.action} rejected, unmet: ${result.unmet.join(', ')}`);
};
