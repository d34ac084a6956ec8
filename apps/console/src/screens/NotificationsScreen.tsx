import { useState } from 'preact/hooks';
import { describeError } from '../api/ApiError.js';
import { createSubscription, deleteSubscription, readSubscriptions, resumeSubscription, setSubscriptionEnabled, type NewSubscription } from '../api/calls.js';
import type { NotificationSubscription } from '../api/types.js';
import { ErrorMessage } from '../components/ErrorMessage.js';
import { formatAge, formatTime } from '../format.js';
import { useResource } from '../live/useResource.js';

/** Deliveries are not announced by the state stream: the status is read again this often. */
const REFRESH_MS = 3_000;

/** What a new subscription is told about, as people ask for it (docs/notifications.md lists the actions). */
const PRESETS: Readonly<Record<string, { label: string; filter: NotificationSubscription['filter'] }>> = {
  safety: { label: 'Kill switch engages and releases', filter: { actions: ['kill_switch.engage', 'kill_switch.release'] } },
  applied: { label: 'Every applied change', filter: { kinds: ['change'], outcomes: ['applied'] } },
  verification: { label: 'Verification failures and drift', filter: { actions: ['verification.failed', 'verification.drift'] } },
  approvals: { label: 'Change requests waiting for approval', filter: { actions: ['change_request.requested'] } },
  everything: { label: 'Every audit entry', filter: {} },
};

const describeFilter = (filter: NotificationSubscription['filter']): string => {
  const preset = Object.values(PRESETS).find((candidate) => JSON.stringify(candidate.filter) === JSON.stringify(filter));
  if (preset !== undefined) return preset.label;
  return [
    filter.kinds === undefined ? null : `kinds: ${filter.kinds.join(', ')}`,
    filter.actions === undefined ? null : `actions: ${filter.actions.join(', ')}`,
    filter.outcomes === undefined ? null : `outcomes: ${filter.outcomes.join(', ')}`,
  ]
    .filter((part) => part !== null)
    .join('; ');
};

const NewSubscriptionForm = ({ onCreated }: { onCreated: () => void }) => {
  const [kind, setKind] = useState<NewSubscription['kind']>('webhook');
  const [url, setUrl] = useState('');
  const [preset, setPreset] = useState('safety');
  const [description, setDescription] = useState('');
  const [reason, setReason] = useState('');
  const [busy, setBusy] = useState(false);
  const [error, setError] = useState<{ code: string; message: string } | null>(null);
  const [created, setCreated] = useState<{ id: string; secret: string | null } | null>(null);
  return (
    <section class="panel" aria-labelledby="new-subscription-title">
      <h2 id="new-subscription-title">New subscription</h2>
      <form
        class="subscription-form"
        onSubmit={(event) => {
          event.preventDefault();
          setBusy(true);
          setCreated(null);
          const body: NewSubscription = { kind, url: url.trim(), filter: PRESETS[preset]?.filter ?? {}, reason: reason.trim(), ...(description.trim() === '' ? {} : { description: description.trim() }) };
          createSubscription(body).then(
            (subscription) => {
              setBusy(false);
              setError(null);
              setCreated({ id: subscription.id, secret: subscription.secret });
              setUrl('');
              setReason('');
              onCreated();
            },
            (failure: unknown) => {
              setBusy(false);
              setError(describeError(failure));
            },
          );
        }}
      >
        <label for="subscription-kind">Kind</label>
        <select id="subscription-kind" value={kind} onChange={(event) => setKind(event.currentTarget.value as NewSubscription['kind'])}>
          <option value="webhook">Webhook (signed, Standard Webhooks)</option>
          <option value="slack">Slack (incoming webhook)</option>
        </select>
        <label for="subscription-url">URL</label>
        <input id="subscription-url" type="url" required maxLength={2048} value={url} onInput={(event) => setUrl(event.currentTarget.value)} />
        <label for="subscription-filter">Tell about</label>
        <select id="subscription-filter" value={preset} onChange={(event) => setPreset(event.currentTarget.value)}>
          {Object.entries(PRESETS).map(([key, { label }]) => (
            <option key={key} value={key}>
              {label}
            </option>
          ))}
        </select>
        <label for="subscription-description">Description</label>
        <input id="subscription-description" maxLength={200} value={description} onInput={(event) => setDescription(event.currentTarget.value)} />
        <label for="subscription-reason">Reason (audited)</label>
        <input id="subscription-reason" required maxLength={500} value={reason} onInput={(event) => setReason(event.currentTarget.value)} />
        <span />
        <div>
          <button type="submit" class="primary" disabled={busy}>
            Create subscription
          </button>
        </div>
      </form>
      <ErrorMessage error={error} />
      {created === null ? null : (
        <p class="secret-once" role="status" data-testid="subscription-created">
          Subscription <span class="mono">{created.id}</span> created.
          {created.secret === null ? null : (
            <>
              {' '}
              Its signing secret, shown only now (give it to the receiver): <span class="mono" data-testid="signing-secret">{created.secret}</span>
            </>
          )}
        </p>
      )}
    </section>
  );
};

const SubscriptionRow = ({ subscription, canManage, onDone }: { subscription: NotificationSubscription; canManage: boolean; onDone: () => void }) => {
  const [reason, setReason] = useState('');
  const [busy, setBusy] = useState(false);
  const [error, setError] = useState<{ code: string; message: string } | null>(null);
  const { status } = subscription;
  const act = (call: (id: string, reason: string) => Promise<unknown>) => {
    if (reason.trim().length === 0) {
      setError({ code: 'VALIDATION_FAILED', message: 'reason: say why (it is audited)' });
      return;
    }
    setBusy(true);
    call(subscription.id, reason.trim()).then(
      () => {
        setBusy(false);
        setError(null);
        setReason('');
        onDone();
      },
      (failure: unknown) => {
        setBusy(false);
        setError(describeError(failure));
      },
    );
  };
  const inputId = `subscription-reason-${subscription.id}`;
  return (
    <tr data-testid="subscription">
      <td>
        <span class="mono">{subscription.target}</span>
        <br />
        <span class="muted">
          {subscription.kind} · {describeFilter(subscription.filter)}
          {subscription.description === null ? '' : ` · ${subscription.description}`}
        </span>
      </td>
      <td>
        <span class={`pill ${status.state}`} data-testid="subscription-state">
          {status.state.replace('_', '-')}
        </span>{' '}
        {status.state === 'active' && status.circuit !== 'closed' ? (
          <span class={`pill ${status.circuit}`} title="circuit: the receiver failed repeatedly; each attempt is a probe">
            circuit {status.circuit.replace('_', '-')}
          </span>
        ) : null}
        {status.dead_letter_reason === null ? null : <p class="muted">{status.dead_letter_reason}</p>}
      </td>
      <td data-testid="subscription-backlog">
        {status.backlog}
        {status.oldest_pending_at === null ? null : <span class="muted"> · oldest {formatAge(status.oldest_pending_at)}</span>}
      </td>
      <td class="nowrap">{status.last_success_at === null ? '—' : formatAge(status.last_success_at)}</td>
      <td>
        {status.last_error === null ? (
          '—'
        ) : (
          <>
            <span class="code">{status.last_error.code}</span> {status.last_error.message} <span class="muted">({formatTime(status.last_error.at)})</span>
          </>
        )}
      </td>
      <td>
        {canManage ? (
          <div class="inline-form">
            <label for={inputId} class="sr-only">
              Reason for changing subscription {subscription.id}
            </label>
            <input id={inputId} maxLength={500} placeholder="reason" value={reason} onInput={(event) => setReason(event.currentTarget.value)} />
            {status.state === 'dead_lettered' ? (
              <button type="button" class="primary" disabled={busy} onClick={() => act(resumeSubscription)}>
                Resume
              </button>
            ) : null}
            <button type="button" class="secondary" disabled={busy} onClick={() => act((id, why) => setSubscriptionEnabled(id, !subscription.enabled, why))}>
              {subscription.enabled ? 'Pause' : 'Enable'}
            </button>
            <button type="button" class="secondary" disabled={busy} onClick={() => act(deleteSubscription)}>
              Delete
            </button>
          </div>
        ) : null}
        <ErrorMessage error={error} />
      </td>
    </tr>
  );
};

/**
 * Notification subscriptions and their delivery status (backlog, last success, last error, circuit, dead letter).
 * Operators of ADMIN_ACTORS create, pause, resume and delete them; everyone else sees the status.
 */
export const NotificationsScreen = () => {
  const subscriptions = useResource(readSubscriptions, [], REFRESH_MS);
  const items = subscriptions.data?.items ?? [];
  const canManage = subscriptions.data?.can_manage === true;
  return (
    <>
      <section class="panel" aria-labelledby="subscriptions-title">
        <h2 id="subscriptions-title">Notification subscriptions</h2>
        <ErrorMessage error={subscriptions.error} />
        {subscriptions.data !== undefined && items.length === 0 ? <p class="muted">None yet.</p> : null}
        {items.length > 0 ? (
          <div class="table-wrap">
            <table data-testid="subscriptions">
              <caption class="sr-only">Subscriptions and their delivery status</caption>
              <thead>
                <tr>
                  <th scope="col">Target</th>
                  <th scope="col">State</th>
                  <th scope="col">Backlog</th>
                  <th scope="col">Last success</th>
                  <th scope="col">Last error</th>
                  <th scope="col">{canManage ? 'Change (audited)' : ''}</th>
                </tr>
              </thead>
              <tbody>
                {items.map((subscription) => (
                  <SubscriptionRow key={subscription.id} subscription={subscription} canManage={canManage} onDone={subscriptions.reload} />
                ))}
              </tbody>
            </table>
          </div>
        ) : null}
      </section>
      {canManage ? <NewSubscriptionForm onCreated={subscriptions.reload} /> : null}
    </>
  );
};
