import { sql, type CommonQueryMethods } from 'slonik';
import { changeRequestRow, type ChangeRequest, type ChangeRequestStatus } from './model.js';

const iso = (column: string) =>
  sql.fragment`to_char(${sql.identifier(['c', column])} AT TIME ZONE 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS.MS"Z"')`;

const SELECT_REQUEST = sql.fragment`
  SELECT c.id, c.action, c.requested_by, c.reason, c.required, c.state_version::int AS state_version, c.status,
         c.job_id, c.request_id, ${iso('created_at')} AS created_at, ${iso('expires_at')} AS expires_at,
         ${iso('closed_at')} AS closed_at, c.closed_by, c.close_reason,
         coalesce((SELECT json_agg(json_build_object(
                     'approver', a.approver, 'reason', a.reason,
                     'approved_at', to_char(a.approved_at AT TIME ZONE 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS.MS"Z"'))
                     ORDER BY a.approved_at, a.approver)
                   FROM public.change_request_approvals a WHERE a.change_request_id = c.id), '[]'::json) AS approvals
  FROM public.change_requests c
`;

export const insertChangeRequest = async (
  tx: CommonQueryMethods,
  request: { id: string; action: string; requestedBy: string; reason: string; required: number; stateVersion: number; ttlMinutes: number; requestId: string | null },
): Promise<ChangeRequest> => {
  await tx.query(sql.unsafe`
    INSERT INTO public.change_requests (id, action, requested_by, reason, required, state_version, status, request_id, expires_at)
    VALUES (${request.id}, ${request.action}, ${request.requestedBy}, ${request.reason}, ${request.required},
            ${request.stateVersion}, 'pending_approval', ${request.requestId},
            now() + make_interval(mins => ${request.ttlMinutes}))
  `);
  return tx.one(sql.type(changeRequestRow)`${SELECT_REQUEST} WHERE c.id = ${request.id}`);
};

/** One request, locked FOR UPDATE when `lock` (every step of one request is serialised on its row). */
export const findChangeRequest = async (tx: CommonQueryMethods, id: string, options: { lock: boolean }): Promise<ChangeRequest | null> => {
  if (options.lock) {
    const exists = await tx.maybeOneFirst(sql.unsafe`SELECT id FROM public.change_requests WHERE id = ${id} FOR UPDATE`);
    if (exists === null) return null;
  }
  return tx.maybeOne(sql.type(changeRequestRow)`${SELECT_REQUEST} WHERE c.id = ${id}`);
};

/** Whether the request's expiry has passed, by the database clock (the one that set it). */
export const isExpired = async (tx: CommonQueryMethods, id: string): Promise<boolean> =>
  (await tx.oneFirst(sql.unsafe`SELECT expires_at <= now() FROM public.change_requests WHERE id = ${id}`)) === true;

export const listChangeRequests = async (
  db: CommonQueryMethods,
  filter: { status?: ChangeRequestStatus | undefined; limit: number },
): Promise<ChangeRequest[]> => [
  ...(await db.any(sql.type(changeRequestRow)`
    ${SELECT_REQUEST}
    ${filter.status === undefined ? sql.fragment`` : sql.fragment`WHERE c.status = ${filter.status}`}
    ORDER BY c.created_at DESC, c.id
    LIMIT ${filter.limit}
  `)),
];

export const insertApproval = async (tx: CommonQueryMethods, approval: { id: string; approver: string; reason: string }): Promise<void> => {
  await tx.query(sql.unsafe`
    INSERT INTO public.change_request_approvals (change_request_id, approver, reason)
    VALUES (${approval.id}, ${approval.approver}, ${approval.reason})
  `);
};

export const closeChangeRequestRow = async (
  tx: CommonQueryMethods,
  close: { id: string; status: ChangeRequestStatus; by: string | null; reason: string | null; jobId?: string | undefined },
): Promise<void> => {
  await tx.query(sql.unsafe`
    UPDATE public.change_requests
    SET status = ${close.status}, closed_at = now(), closed_by = ${close.by}, close_reason = ${close.reason},
        job_id = coalesce(${close.jobId ?? null}, job_id)
    WHERE id = ${close.id}
  `);
};

/**
 * Whether a job is the enqueued change of an approved request for this action and requester: the worker's check
 * that an enable or release did not come straight from the queue.
 */
export const isApprovedChange = async (
  db: CommonQueryMethods,
  change: { changeRequestId: string; jobId: string; action: string; actor: string },
): Promise<boolean> =>
  (await db.oneFirst(sql.unsafe`
    SELECT EXISTS (
      SELECT 1 FROM public.change_requests
      WHERE id = ${change.changeRequestId} AND status = 'enqueued' AND job_id = ${change.jobId}
        AND action = ${change.action} AND requested_by = ${change.actor}
    )
  `)) === true;
