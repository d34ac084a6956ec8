import { APPROVAL_ACTIONS, CHANGE_REQUEST_STATUS_VALUES, type ChangeRequest } from '@valhalla/core';
import { z } from 'zod';

/** A change request as the API shows it: the requester counts as the first of `required` operators. */
export const changeRequestResponse = z
  .object({
    id: z.string(),
    action: z.enum(APPROVAL_ACTIONS),
    requested_by: z.string(),
    reason: z.string(),
    approvals: z.array(z.object({ approver: z.string(), reason: z.string(), approved_at: z.string() })),
    required: z.number(),
    status: z.enum(CHANGE_REQUEST_STATUS_VALUES),
    created_at: z.string(),
    expires_at: z.string(),
    jobId: z.string().nullable(),
    closed_by: z.string().nullable(),
    close_reason: z.string().nullable(),
  })
  .meta({ id: 'ChangeRequest' });
export type PublicChangeRequest = z.infer<typeof changeRequestResponse>;

export const toPublicChangeRequest = (request: ChangeRequest): PublicChangeRequest => ({
  id: request.id,
  action: request.action,
  requested_by: request.requested_by,
  reason: request.reason,
  approvals: request.approvals,
  required: request.required,
  status: request.status,
  created_at: request.created_at,
  expires_at: request.expires_at,
  jobId: request.job_id,
  closed_by: request.closed_by,
  close_reason: request.close_reason,
});

export const changeRequestAccepted = z
  .object({ changeRequestId: z.string(), status: z.literal('pending_approval') })
  .meta({ id: 'ChangeRequestAccepted', description: 'The change waits for approvals (APPROVALS_REQUIRED > 1)' });
