import { type ChangeRequest, type DatabasePool } from '@valhalla/core';
import { CHANGE_REQUEST_STATUSES, QUEUES } from '@valhalla/contract';
import type { FastifyRequest } from 'fastify';
import { claimJobIdForKey, readIdempotencyKey } from '../idempotency.js';

/** A step an operator takes on a change request. */
export type ChangeRequestStep = 'approve' | 'reject' | 'cancel';

/**
 * Claims the Idempotency-Key of an approve, reject or cancel (when one was sent), as on every POST: the key is
 * remembered in PostgreSQL with the request it came with (the change request's id and the body), and the same key with
 * another request is 409 IDEMPOTENCY_CONFLICT. Returns whether this is a repeat of a request already made with it.
 * @throws ApiError VALIDATION_FAILED (malformed header), IDEMPOTENCY_CONFLICT, DEPENDENCY_UNAVAILABLE.
 */
export const claimStepKey = async (
  pool: DatabasePool,
  request: FastifyRequest,
  step: { actor: string; id: string; body: unknown },
): Promise<{ replayed: boolean }> => {
  const key = readIdempotencyKey(request);
  if (key === undefined) return { replayed: false };
  const claimed = await claimJobIdForKey(pool, {
    actor: step.actor,
    key,
    method: request.method,
    // The route pattern names no request: the id is part of what the key was used with.
    route: request.routeOptions.url ?? request.url,
    queue: QUEUES.governance,
    body: { changeRequestId: step.id, body: step.body },
  });
  return { replayed: claimed.replayed };
};

/**
 * Whether `actor`'s `step` is what closed or advanced the request: a repeat of that step with its key answers 200 with
 * the request as it is now (as the first answer did), instead of the 409 CHANGE_REQUEST_CLOSED a new attempt gets.
 */
export const stepAlreadyTaken = (request: ChangeRequest, step: ChangeRequestStep, actor: string): boolean => {
  switch (step) {
    case 'approve':
      return request.approvals.some((approval) => approval.approver === actor);
    case 'reject':
      // A reject by the requester is a cancel.
      return (
        request.closed_by === actor &&
        request.status === (request.requested_by === actor ? CHANGE_REQUEST_STATUSES.cancelled : CHANGE_REQUEST_STATUSES.rejected)
      );
    case 'cancel':
      return request.closed_by === actor && request.status === CHANGE_REQUEST_STATUSES.cancelled;
    default: {
      const exhaustive: never = step;
      throw new Error(`unhandled change request step ${String(exhaustive)}`);
    }
  }
};
