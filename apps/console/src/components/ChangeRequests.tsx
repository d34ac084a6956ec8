import { useState } from 'preact/hooks';
import { ApiError, describeError } from '../api/ApiError.js';
import { approveChangeRequest, readChangeRequests, rejectChangeRequest } from '../api/calls.js';
import type { ChangeRequest, Session } from '../api/types.js';
import { formatTime } from '../format.js';
import { useResource } from '../live/useResource.js';
import { ErrorMessage } from './ErrorMessage.js';

/** Who has approved so far: the requester counts as the first of the `required` operators. */
const approvers = (request: ChangeRequest): string[] => [
  `${request.requested_by} (requester)`,
  ...request.approvals.map((approval) => approval.approver),
];

const RequestRow = ({ request, session, onDone }: { request: ChangeRequest; session: Session; onDone: () => void }) => {
  const [reason, setReason] = useState('');
  const [error, setError] = useState<{ code: string; message: string } | null>(null);
  const [busy, setBusy] = useState(false);
  const act = (call: typeof approveChangeRequest) => {
    if (reason.trim().length === 0) {
      setError({ code: 'VALIDATION_FAILED', message: 'reason: say why you approve or reject' });
      return;
    }
    setBusy(true);
    call(request.id, reason.trim()).then(
      () => {
        setError(null);
        setReason('');
        setBusy(false);
        onDone();
      },
      (failure: unknown) => {
        setError(describeError(failure));
        setBusy(false);
      },
    );
  };
  const inputId = `cr-reason-${request.id}`;
  return (
    <li class="change-request" data-testid="change-request">
      <p>
        <strong>{request.action}</strong> requested by <strong>{request.requested_by}</strong>: <q>{request.reason}</q>
      </p>
      <p class="muted">
        {approvers(request).length} of {request.required} approvals: {approvers(request).join(', ')} · {request.status} · expires{' '}
        {formatTime(request.expires_at)}
      </p>
      {session.role === 'operator' && request.status === 'pending_approval' ? (
        <div class="cr-actions">
          <label for={inputId}>Reason for approving or rejecting</label>
          <input id={inputId} value={reason} maxLength={500} onInput={(event) => setReason(event.currentTarget.value)} />
          <div class="button-row">
            {/* The requester counts as the first approval; approving again would be refused (SELF_APPROVAL). */}
            {request.requested_by === session.actor ? null : (
              <button type="button" class="primary" disabled={busy} onClick={() => act(approveChangeRequest)}>
                Approve
              </button>
            )}
            <button type="button" class="secondary" disabled={busy} onClick={() => act(rejectChangeRequest)}>
              {request.requested_by === session.actor ? 'Cancel request' : 'Reject'}
            </button>
          </div>
        </div>
      ) : null}
      <ErrorMessage error={error} />
    </li>
  );
};

const CHANGE_REQUEST_REFRESH_MS = 1_500;

/** Pending four-eyes change requests with approve/reject. Hidden on an api without change requests. */
export const ChangeRequests = ({ session, tick, onDone }: { session: Session; tick: unknown; onDone: () => void }) => {
  const requests = useResource(
    () =>
      readChangeRequests('pending_approval').catch((error: unknown) => {
        if (error instanceof ApiError && error.status === 404) return null;
        throw error;
      }),
    [tick],
    // Requests and approvals are audit events, not state changes: the stream does not announce them.
    CHANGE_REQUEST_REFRESH_MS,
  );
  if (requests.data === null) return null;
  const items = requests.data?.items ?? [];
  return (
    <section class="panel" aria-labelledby="cr-title">
      <h2 id="cr-title">Change requests waiting for approval</h2>
      <ErrorMessage error={requests.error} />
      {items.length === 0 ? <p class="muted">None.</p> : null}
      <ul class="plain">
        {items.map((request) => (
          <RequestRow
            key={request.id}
            request={request}
            session={session}
            onDone={() => {
              requests.reload();
              onDone();
            }}
          />
        ))}
      </ul>
    </section>
  );
};
