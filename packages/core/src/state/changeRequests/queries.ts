import { sql, type CommonQueryMethods } from 'slonik';
import { z } from 'zod';
import type { ChangeRequestStatus, GoLiveChangePayload } from '@valhalla/contract';
import { requiresApproval } from '../rules/rules.js';
import { changeRequestRow, type ChangeRequest } from './model.js';

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

/**
 * Requests as they stand now, newest first, read without a lock and without writing: a pending request that is past
 * its expiry, or was made against another state version, is listed as `expired` or `stale`, with the reason its
 * closing will record, although its row still says pending. The row and its audit event are written by the next
 * change-request step, which holds the governance lock anyway (voidDuePendingRequests). The status filter applies to
 * the status as listed.
 */
export const listChangeRequests = async (
  db: CommonQueryMethods,
  filter: { status?: ChangeRequestStatus | undefined; limit: number },
): Promise<ChangeRequest[]> => [
  ...(await db.any(sql.type(changeRequestRow)`
    WITH v AS (SELECT public.governance_live_version()::int AS current),
    listed AS (
      SELECT s.id, s.action, s.requested_by, s.reason, s.required, s.state_version, s.job_id, s.request_id, s.created_at,
             s.expires_at, s.closed_at, s.closed_by, s.approvals, c.created_at AS sort_at,
             CASE WHEN s.status <> 'pending_approval' THEN s.status
                  WHEN c.expires_at <= now() THEN 'expired'
                  WHEN s.state_version <> v.current THEN 'stale'
                  ELSE s.status END AS status,
             CASE WHEN s.status <> 'pending_approval' THEN s.close_reason
                  WHEN c.expires_at <= now()
                    THEN format('expired at %s with %s of %s approvals', s.expires_at, json_array_length(s.approvals) + 1, s.required)
                  WHEN s.state_version <> v.current
                    THEN format('state version changed from %s to %s since the request', s.state_version, v.current)
                  ELSE s.close_reason END AS close_reason
      FROM (${SELECT_REQUEST}) s
      JOIN public.change_requests c ON c.id = s.id
      CROSS JOIN v
    )
    SELECT id, action, requested_by, reason, required, state_version, status, job_id, request_id, created_at, expires_at,
           closed_at, closed_by, close_reason, approvals
    FROM listed
    ${filter.status === undefined ? sql.fragment`` : sql.fragment`WHERE status = ${filter.status}`}
    ORDER BY sort_at DESC, id
    LIMIT ${filter.limit}
  `)),
];

/**
 * Pending requests that are past their expiry or were made against another state version than `version`, oldest
 * first, locked FOR UPDATE (at most `limit`, and never `except`, the request the caller is acting on).
 */
export const findDuePendingRequests = async (
  tx: CommonQueryMethods,
  options: { version: number; except: string | null; limit: number },
): Promise<readonly string[]> =>
  tx.anyFirst(sql.type(z.object({ id: z.string() }))`
    SELECT id FROM public.change_requests
    WHERE status = 'pending_approval' AND (expires_at <= now() OR state_version <> ${options.version})
      AND id IS DISTINCT FROM ${options.except}
    ORDER BY created_at, id
    LIMIT ${options.limit}
    FOR UPDATE
  `);

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
 * Four-eyes at the worker, for one change or a whole batch in one query: the job ids among `changes` that need an
 * approved change request (requiresApproval) and are not the enqueued job of one for the same action and requester
 * (e.g. added straight to the queue, or borrowing another request's id), and when each approved one was requested.
 * Empty when approvals are not required.
 */
export const findApprovalsOfChanges = async (
  db: CommonQueryMethods,
  changes: readonly { jobId: string; payload: GoLiveChangePayload }[],
  approvalsRequired: number,
): Promise<{ unapproved: Set<string>; requestedAtMs: Map<string, number> }> => {
  const needing = changes.filter((change) => requiresApproval(change.payload.action, approvalsRequired));
  if (needing.length === 0) return { unapproved: new Set(), requestedAtMs: new Map() };
  const claimed = needing.flatMap((change) => {
    const id = 'changeRequestId' in change.payload ? change.payload.changeRequestId : undefined;
    return id === undefined ? [] : [{ id, job_id: change.jobId, action: change.payload.action, requested_by: change.payload.actor }];
  });
  const approved =
    claimed.length === 0
      ? []
      : await db.any(sql.type(z.object({ job_id: z.string(), requested_ms: z.number() }))`
          SELECT c.job_id, (extract(epoch FROM c.created_at) * 1000)::float8 AS requested_ms
          FROM public.change_requests c
          JOIN jsonb_to_recordset(${sql.jsonb(claimed)}) AS m(id TEXT, job_id TEXT, action TEXT, requested_by TEXT)
            ON c.id = m.id AND c.job_id = m.job_id AND c.action = m.action AND c.requested_by = m.requested_by
          WHERE c.status = 'enqueued'
        `);
  const requestedAtMs = new Map(approved.map((row) => [row.job_id, Math.floor(row.requested_ms)]));
  return { unapproved: new Set(needing.map((change) => change.jobId).filter((jobId) => !requestedAtMs.has(jobId))), requestedAtMs };
};
