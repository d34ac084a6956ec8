import { randomUUID } from 'node:crypto';
import type { DatabasePool, DatabaseTransactionConnection } from 'slonik';
import { runInTransaction } from '../../db/runInTransaction.js';
import { CHANGE_REQUEST_STATUSES, JOB_NAMES, queueForJob, type ApprovalAction, type ChangeRequestStatus, type GoLiveChangePayload } from '@valhalla/contract';
import { appendAuditEvent } from '../audit/appendAuditEvent.js';
import { acceptApprovedChange } from '../queries/acceptedJobs.js';
import type { AuditKeyring } from '../audit/auditKeyring.js';
import { lockGovernanceRows } from '../queries/governanceState.js';
import { readStateVersion } from '../queries/stateVersion.js';
import {
  CHANGE_REQUEST_EVENTS,
  CHANGE_REQUEST_SYSTEM_ACTOR,
  changeRequestJobId,
  type ChangeRequest,
} from './model.js';
import { closeChangeRequestRow, findChangeRequest, findDuePendingRequests, insertApproval, insertChangeRequest, isExpired } from './queries.js';

/**
 * The steps of a change request. Each runs in one transaction that first locks row 1 of the governance tables (as
 * every state and audit writer does), so the state version it reads cannot move until it commits, and writes its
 * audit event in the same transaction. Database work only: safe to re-run. The caller enqueues the job after an
 * `enqueue` outcome committed.
 *
 * Reading never closes anything (listChangeRequests shows an expired or stale request as such without writing): the
 * pending requests that came due are closed, with their audit events, by the next step, under the lock it holds.
 */

type Locked = { tx: DatabaseTransactionConnection; keyring: AuditKeyring; version: number };

/** At most this many due requests are closed by one step; the next step closes the rest. */
const DUE_REQUESTS_PER_STEP = 100;

const withLockedState = <T>(
  pool: DatabasePool,
  keyring: AuditKeyring,
  actingOn: string | null,
  handler: (locked: Locked) => Promise<T>,
): Promise<T> =>
  runInTransaction(pool, async (tx) => {
    await lockGovernanceRows(tx);
    const locked = { tx, keyring, version: await readStateVersion(tx) };
    await voidDuePendingRequests(locked, actingOn);
    return handler(locked);
  });

const event = (locked: Locked, request: ChangeRequest, step: keyof typeof CHANGE_REQUEST_EVENTS, actor: string, reason: string, requestId: string | null, suffix = '') =>
  appendAuditEvent(locked.tx, locked.keyring, {
    key: `change-request:${request.id}:${step}${suffix}`,
    action: CHANGE_REQUEST_EVENTS[step],
    actor,
    reason,
    requestId,
    details: { change_request: request.id, action: request.action, requested_by: request.requested_by, state_version: request.state_version },
  });

/** Closes a pending request that is past its expiry or made against another state version; null when it is neither. */
const voidIfStale = async (locked: Locked, request: ChangeRequest): Promise<'expired' | 'state_changed' | null> => {
  const why = (await isExpired(locked.tx, request.id)) ? 'expired' : request.state_version !== locked.version ? 'state_changed' : null;
  if (why === null) return null;
  const status = why === 'expired' ? CHANGE_REQUEST_STATUSES.expired : CHANGE_REQUEST_STATUSES.stale;
  const reason =
    why === 'expired'
      ? `expired at ${request.expires_at} with ${request.approvals.length + 1} of ${request.required} approvals`
      : `state version changed from ${request.state_version} to ${locked.version} since the request`;
  await closeChangeRequestRow(locked.tx, { id: request.id, status, by: null, reason });
  await event(locked, request, why === 'expired' ? 'expired' : 'stale', CHANGE_REQUEST_SYSTEM_ACTOR, reason, null);
  return why;
};

/**
 * Closes the pending requests (other than `except`, which the step itself judges) that expired or were made against
 * another state version since, each with its audit event.
 */
const voidDuePendingRequests = async (locked: Locked, except: string | null): Promise<void> => {
  const due = await findDuePendingRequests(locked.tx, { version: locked.version, except, limit: DUE_REQUESTS_PER_STEP });
  for (const id of due) {
    const request = await findChangeRequest(locked.tx, id, { lock: false });
    if (request !== null && request.status === CHANGE_REQUEST_STATUSES.pending) await voidIfStale(locked, request);
  }
};

/**
 * Creates a change request (status pending_approval) with its `change_request.requested` audit event. With an `id`
 * (one that follows from an Idempotency-Key), a request that already has it is returned as it is, with `created`
 * false and no second event: creations are serialised on the governance lock, so racing repeats see each other.
 */
export const createChangeRequest = async (
  pool: DatabasePool,
  keyring: AuditKeyring,
  input: { id?: string | undefined; action: ApprovalAction; actor: string; reason: string; required: number; ttlMinutes: number; requestId: string | null },
): Promise<{ request: ChangeRequest; created: boolean }> =>
  withLockedState(pool, keyring, null, async (locked) => {
    const existing = input.id === undefined ? null : await findChangeRequest(locked.tx, input.id, { lock: false });
    if (existing !== null) return { request: existing, created: false };
    const request = await insertChangeRequest(locked.tx, {
      id: input.id ?? randomUUID(),
      action: input.action,
      requestedBy: input.actor,
      reason: input.reason,
      required: input.required,
      stateVersion: locked.version,
      ttlMinutes: input.ttlMinutes,
      requestId: input.requestId,
    });
    await event(locked, request, 'requested', input.actor, input.reason, input.requestId);
    return { request, created: true };
  });

export type ApprovalOutcome =
  | { kind: 'not_found' }
  | { kind: 'self_approval'; request: ChangeRequest }
  | { kind: 'closed'; request: ChangeRequest }
  | { kind: 'stale'; request: ChangeRequest; why: 'expired' | 'state_changed' }
  | { kind: 'approved'; request: ChangeRequest }
  | { kind: 'enqueue'; request: ChangeRequest; jobId: string; payload: GoLiveChangePayload };

/**
 * Records one operator's approval. When the requester plus the distinct approvers reach `required`, the request is
 * marked enqueued with its job id and the job is accepted in the same transaction (the acceptance record, numbered
 * where the request was made); the caller then enqueues it, and the reconciler does if Redis does not take it. An
 * already enqueued request whose state version still holds answers `enqueue` again, so a client can resend.
 */
export const approveChangeRequest = async (
  pool: DatabasePool,
  keyring: AuditKeyring,
  input: { id: string; approver: string; reason: string; requestId: string | null },
): Promise<ApprovalOutcome> =>
  withLockedState(pool, keyring, input.id, async (locked): Promise<ApprovalOutcome> => {
    const found = await findChangeRequest(locked.tx, input.id, { lock: true });
    if (found === null) return { kind: 'not_found' };
    const approvedBy = found.approvals.map((approval) => approval.approver);
    if (found.status === CHANGE_REQUEST_STATUSES.enqueued && found.job_id !== null && found.state_version === locked.version) {
      // Recorded when it was enqueued, unless older code enqueued it: then it is accepted now.
      return { kind: 'enqueue', request: found, jobId: found.job_id, payload: await acceptApproved(locked, found, found.job_id, approvedBy) };
    }
    if (found.status !== CHANGE_REQUEST_STATUSES.pending) return { kind: 'closed', request: found };
    if (found.requested_by === input.approver) return { kind: 'self_approval', request: found };
    const why = await voidIfStale(locked, found);
    if (why !== null) return { kind: 'stale', request: await reread(locked, input.id), why };
    if (approvedBy.includes(input.approver)) return { kind: 'approved', request: found };

    await insertApproval(locked.tx, { id: input.id, approver: input.approver, reason: input.reason });
    await event(locked, found, 'approved', input.approver, input.reason, input.requestId, `:${input.approver}`);
    const approvers = [...approvedBy, input.approver];
    if (approvers.length + 1 < found.required) return { kind: 'approved', request: await reread(locked, input.id) };

    const jobId = changeRequestJobId(input.id);
    const summary = `enqueued as job ${jobId} for ${found.requested_by}; approved by ${approvers.join(', ')}`;
    await closeChangeRequestRow(locked.tx, { id: input.id, status: CHANGE_REQUEST_STATUSES.enqueued, by: input.approver, reason: summary, jobId });
    await event(locked, found, 'enqueued', input.approver, summary, input.requestId);
    const payload = await acceptApproved(locked, found, jobId, approvers);
    return { kind: 'enqueue', request: await reread(locked, input.id), jobId, payload };
  });

/** The job of an approved request (the requester's change, with its approvers), accepted in the approval's transaction. */
const acceptApproved = async (locked: Locked, request: ChangeRequest, jobId: string, approvedBy: string[]): Promise<GoLiveChangePayload> => {
  const payload: GoLiveChangePayload = {
    action: request.action,
    actor: request.requested_by,
    reason: request.reason,
    ...(request.request_id === null ? {} : { requestId: request.request_id }),
    changeRequestId: request.id,
    approvedBy,
  };
  await acceptApprovedChange(locked.tx, {
    jobId,
    queue: queueForJob(JOB_NAMES.goLiveChange, payload),
    jobName: JOB_NAMES.goLiveChange,
    payload,
    actor: request.requested_by,
    changeRequestId: request.id,
  });
  return payload;
};

export type CloseOutcome =
  | { kind: 'not_found' }
  | { kind: 'forbidden'; request: ChangeRequest }
  | { kind: 'closed'; request: ChangeRequest }
  | { kind: 'stale'; request: ChangeRequest; why: 'expired' | 'state_changed' }
  | { kind: 'done'; request: ChangeRequest };

/**
 * Rejects (another operator) or cancels (the requester) a pending request. A reject by the requester is a cancel.
 * Cancel by anyone else is `forbidden`.
 */
export const closeChangeRequest = async (
  pool: DatabasePool,
  keyring: AuditKeyring,
  input: { id: string; actor: string; reason: string; requestId: string | null; step: 'reject' | 'cancel' },
): Promise<CloseOutcome> =>
  withLockedState(pool, keyring, input.id, async (locked): Promise<CloseOutcome> => {
    const found = await findChangeRequest(locked.tx, input.id, { lock: true });
    if (found === null) return { kind: 'not_found' };
    const byRequester = found.requested_by === input.actor;
    if (input.step === 'cancel' && !byRequester) return { kind: 'forbidden', request: found };
    if (found.status !== CHANGE_REQUEST_STATUSES.pending) return { kind: 'closed', request: found };
    const why = await voidIfStale(locked, found);
    if (why !== null) return { kind: 'stale', request: await reread(locked, input.id), why };
    const status: ChangeRequestStatus = byRequester ? CHANGE_REQUEST_STATUSES.cancelled : CHANGE_REQUEST_STATUSES.rejected;
    await closeChangeRequestRow(locked.tx, { id: input.id, status, by: input.actor, reason: input.reason });
    await event(locked, found, byRequester ? 'cancelled' : 'rejected', input.actor, input.reason, input.requestId);
    return { kind: 'done', request: await reread(locked, input.id) };
  });

const reread = async (locked: Locked, id: string): Promise<ChangeRequest> => {
  const request = await findChangeRequest(locked.tx, id, { lock: false });
  if (request === null) throw new Error(`change request ${id} vanished inside its own transaction`);
  return request;
};
