import { approveChangeRequest, closeChangeRequest, listChangeRequests, type ApprovalOutcome, type CloseOutcome } from '@valhalla/core';
import { CHANGE_REQUEST_STATUS_VALUES, JOB_NAMES, changeRequestResponse } from '@valhalla/contract';
import type { FastifyInstance } from 'fastify';
import type { ZodTypeProvider } from 'fastify-type-provider-zod';
import { z } from 'zod';
import { requirePrincipal } from '../auth.js';
import { toPublicChangeRequest } from '../changeRequests/publicChangeRequest.js';
import { enqueueAccepted } from '../acceptance/acceptJob.js';
import { claimStepKey, stepAlreadyTaken } from '../changeRequests/stepIdempotency.js';
import { callDatabase } from '../dependencyCalls.js';
import type { ApiDependencies } from '../dependencies.js';
import { ApiError } from '../errors.js';
import { errorResponses, readErrors } from '../responseSchemas.js';
import { reasonBody } from '../schemas.js';

const idParams = z.strictObject({ id: z.uuid('must be a change request id (a UUID)') });
const listQuery = z.strictObject({
  status: z.enum(CHANGE_REQUEST_STATUS_VALUES).optional(),
  limit: z.coerce.number().int().min(1).max(200).optional(),
});

/** The errors an approve, reject or cancel can answer, as ApiErrors. */
const refusal = (outcome: Exclude<ApprovalOutcome | CloseOutcome, { kind: 'approved' | 'enqueue' | 'done' }>, id: string): ApiError => {
  switch (outcome.kind) {
    case 'not_found':
      return new ApiError('NOT_FOUND', `no change request with id ${id}`);
    case 'self_approval':
      return new ApiError('SELF_APPROVAL', `${outcome.request.requested_by} made change request ${id} and cannot approve it; another operator must`);
    case 'forbidden':
      return new ApiError('FORBIDDEN', `only ${outcome.request.requested_by}, who made change request ${id}, may cancel it; others reject it`);
    case 'closed':
      return new ApiError('CHANGE_REQUEST_CLOSED', `change request ${id} is ${outcome.request.status}`);
    case 'stale':
      return new ApiError(
        'CHANGE_REQUEST_STALE',
        outcome.why === 'expired'
          ? `change request ${id} expired at ${outcome.request.expires_at}; make a new one`
          : `the state changed since change request ${id} was made; make a new one`,
      );
    default: {
      const exhaustive: never = outcome;
      throw new Error(`unhandled change request outcome ${JSON.stringify(exhaustive)}`);
    }
  }
};

/**
 * Four-eyes change requests (APPROVALS_REQUIRED > 1). List them (a read: no lock, no write); approve (another
 * operator; the last approval enqueues the change as the requester's job, with the approvers in the payload); reject;
 * cancel (the requester). Every step is an audit event in the same transaction as the step. A step honours an
 * Idempotency-Key: the same key and request again answers as the first time did (Idempotent-Replayed: true), the same
 * key with another request (another id or body) is 409 IDEMPOTENCY_CONFLICT.
 */
export const changeRequestRoutes = async (scope: FastifyInstance, deps: ApiDependencies): Promise<void> => {
  const app = scope.withTypeProvider<ZodTypeProvider>();
  const rateLimit = { max: deps.config.rateLimitPerMinute, timeWindow: 60_000 };
  const tags = ['change requests'];
  const stepErrors = errorResponses(400, 401, 403, 404, 409, 413, 415, 429, 503);

  app.get(
    '/governance/change-requests',
    {
      schema: {
        tags,
        summary: 'Change requests, newest first (a read: a pending request past its expiry or state version is listed as expired or stale)',
        querystring: listQuery,
        response: { 200: z.object({ items: z.array(changeRequestResponse) }), ...readErrors() },
      },
    },
    async (request) => {
      // A plain read: no governance lock, no write (the closing of due requests is left to the next step).
      const items = await callDatabase(() => listChangeRequests(deps.pool, { status: request.query.status, limit: request.query.limit ?? 50 }));
      return { items: items.map(toPublicChangeRequest) };
    },
  );

  app.post(
    '/governance/change-requests/:id/approve',
    { schema: { tags, summary: 'Approve a change request (another operator than the requester)', params: idParams, body: reasonBody, response: { 200: changeRequestResponse, ...stepErrors } }, config: { rateLimit, idempotencyKey: 'honoured' } },
    async (request, reply) => {
      const { actor } = requirePrincipal(request);
      const { id } = request.params;
      const { replayed } = await claimStepKey(deps.pool, request, { actor, id, body: request.body });
      if (replayed) reply.header('Idempotent-Replayed', 'true');
      const outcome = await callDatabase(() => approveChangeRequest(deps.pool, deps.config.auditKeyring, { id, approver: actor, reason: request.body.reason, requestId: request.id }));
      if (outcome.kind === 'approved') return toPublicChangeRequest(outcome.request);
      // A repeat of an approval that went through: the request has moved on (enqueued and executed, or closed since).
      if (replayed && outcome.kind !== 'enqueue' && 'request' in outcome && stepAlreadyTaken(outcome.request, 'approve', actor)) {
        return toPublicChangeRequest(outcome.request);
      }
      if (outcome.kind !== 'enqueue') throw refusal(outcome, id);
      const { request: approved, jobId, payload } = outcome;
      // Accepted in the approval's transaction (the acceptance record): enqueued now, or by the reconciler when Redis
      // does not take it. Approving again resends the same job id (BullMQ keeps one job per id).
      await enqueueAccepted(deps, request.log, { name: JOB_NAMES.goLiveChange, payload, jobId });
      request.log.info({ changeRequestId: id, jobId, requestedBy: approved.requested_by }, 'approved change accepted');
      return toPublicChangeRequest(approved);
    },
  );

  for (const step of ['reject', 'cancel'] as const) {
    app.post(
      `/governance/change-requests/:id/${step}`,
      {
        schema: { tags, summary: step === 'reject' ? 'Reject a change request' : 'Cancel your own change request', params: idParams, body: reasonBody, response: { 200: changeRequestResponse, ...stepErrors } },
        config: { rateLimit, idempotencyKey: 'honoured' },
      },
      async (request, reply) => {
        const { actor } = requirePrincipal(request);
        const { id } = request.params;
        const { replayed } = await claimStepKey(deps.pool, request, { actor, id, body: request.body });
        if (replayed) reply.header('Idempotent-Replayed', 'true');
        const outcome = await callDatabase(() => closeChangeRequest(deps.pool, deps.config.auditKeyring, { id, actor, reason: request.body.reason, requestId: request.id, step }));
        // A repeat of the reject or cancel that closed the request answers as the first one did.
        if (replayed && outcome.kind === 'closed' && stepAlreadyTaken(outcome.request, step, actor)) return toPublicChangeRequest(outcome.request);
        if (outcome.kind !== 'done') throw refusal(outcome, id);
        return toPublicChangeRequest(outcome.request);
      },
    );
  }
};
