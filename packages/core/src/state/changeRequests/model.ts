import { z } from 'zod';
import { APPROVAL_ACTIONS, CHANGE_REQUEST_STATUS_VALUES } from '@valhalla/contract';

/**
 * change request: a go_live.enable or kill_switch.release asked for while APPROVALS_REQUIRED > 1. It waits for
 * approvals by other operators; the requester counts as the first of the `required` operators. When enough approved,
 * the change is enqueued as a job under the requester's name. It is void once it expires or once the state's
 * version (the audit id of the newest applied change) differs from the one it was made against.
 */
/** The actor of the events nobody asked for: a request found expired or stale. */
export const CHANGE_REQUEST_SYSTEM_ACTOR = 'system';

/** The audit event actions of a change request's steps. */
export const CHANGE_REQUEST_EVENTS = {
  requested: 'change_request.requested',
  approved: 'change_request.approved',
  rejected: 'change_request.rejected',
  cancelled: 'change_request.cancelled',
  expired: 'change_request.expired',
  stale: 'change_request.stale',
  enqueued: 'change_request.enqueued',
} as const;

const approvalRow = z.object({ approver: z.string(), reason: z.string(), approved_at: z.string() });

export const changeRequestRow = z.object({
  id: z.string(),
  action: z.enum(APPROVAL_ACTIONS),
  requested_by: z.string(),
  reason: z.string(),
  required: z.number(),
  state_version: z.number(),
  status: z.enum(CHANGE_REQUEST_STATUS_VALUES),
  job_id: z.string().nullable(),
  request_id: z.string().nullable(),
  created_at: z.string(),
  expires_at: z.string(),
  closed_at: z.string().nullable(),
  closed_by: z.string().nullable(),
  close_reason: z.string().nullable(),
  approvals: z.array(approvalRow),
});
export type ChangeRequest = z.infer<typeof changeRequestRow>;

/** The job id of an approved request's change: one per request, so a resend after a failed enqueue is the same job. */
export const changeRequestJobId = (id: string): string => `change-request-${id}`;
