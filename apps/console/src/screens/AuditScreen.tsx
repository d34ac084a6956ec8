import { useState } from 'preact/hooks';
import { readAudit, type AuditFilter } from '../api/calls.js';
import type { AuditEntry, LiveState, RunbookStatus, Session, StateSnapshot } from '../api/types.js';
import { ChainStatus } from '../components/ChainStatus.js';
import { ErrorMessage } from '../components/ErrorMessage.js';
import { formatTime } from '../format.js';
import { useResource } from '../live/useResource.js';

const ACTIONS = [
  'kill_switch.engage',
  'kill_switch.release',
  'go_live.enable',
  'go_live.disable',
  'metadata.update',
  'job.retry',
  'change_request.requested',
  'change_request.approved',
  'change_request.rejected',
  'change_request.enqueued',
];
const OUTCOMES = ['applied', 'unchanged', 'rejected'];
const FIELDS: (keyof StateSnapshot)[] = ['live', 'go_live_enabled', 'kill_switch_engaged', 'backend_complete', 'version', 'notes'];

const show = (value: unknown): string => {
  if (value === null || value === undefined) return '∅';
  // Numbers, booleans and objects read the same as JSON.
  return typeof value === 'string' ? value : JSON.stringify(value);
};

/** Before → after, only for the fields that changed; an event entry shows what it records instead. */
const Diff = ({ entry }: { entry: AuditEntry }) => {
  if (entry.outcome === null) {
    const details = Object.entries(entry.details ?? {});
    return details.length === 0 ? (
      <span class="muted">event</span>
    ) : (
      <ul class="diff">
        {details.map(([key, value]) => (
          <li key={key}>
            {key}: {show(value)}
          </li>
        ))}
      </ul>
    );
  }
  if (entry.before === null || entry.after === null) return <span class="muted">—</span>;
  const changed = FIELDS.filter((field) => entry.before?.[field] !== entry.after?.[field]);
  if (changed.length === 0) return <span class="muted">no change</span>;
  return (
    <ul class="diff">
      {changed.map((field) => (
        <li key={field}>
          {field}: {show(entry.before?.[field])} → <strong>{show(entry.after?.[field])}</strong>
        </li>
      ))}
    </ul>
  );
};

const filterFrom = (params: URLSearchParams): AuditFilter => ({
  actor: params.get('actor') ?? '',
  action: params.get('action') ?? '',
  outcome: params.get('outcome') ?? '',
});

/** The audit timeline: newest first, paged by the api's cursor, filtered by actor, action and outcome. */
export const AuditScreen = ({
  session,
  params,
  state,
  status,
  onChanged,
}: {
  session: Session;
  params: URLSearchParams;
  state: LiveState | null;
  status: RunbookStatus | undefined;
  onChanged: () => void;
}) => {
  const [filter, setFilter] = useState<AuditFilter>(() => filterFrom(params));
  const [draft, setDraft] = useState<AuditFilter>(filter);
  const [cursors, setCursors] = useState<string[]>([]);
  const before = cursors.at(-1);
  const page = useResource(() => readAudit({ ...filter, ...(before === undefined ? {} : { before }) }), [state, filter, before]);
  const items = page.data?.items ?? [];

  return (
    <section class="panel" aria-labelledby="audit-title">
      <h2 id="audit-title">Audit log</h2>
      <ChainStatus session={session} status={status} version={state?.version ?? null} onDone={onChanged} />
      <form
        class="filters"
        aria-label="Filter the audit log"
        onSubmit={(event) => {
          event.preventDefault();
          setCursors([]);
          setFilter(draft);
        }}
      >
        <label>
          Actor
          <input value={draft.actor} onInput={(event) => setDraft({ ...draft, actor: event.currentTarget.value })} />
        </label>
        <label>
          Action
          <select value={draft.action} onChange={(event) => setDraft({ ...draft, action: event.currentTarget.value })}>
            <option value="">any</option>
            {ACTIONS.map((action) => (
              <option key={action} value={action}>
                {action}
              </option>
            ))}
          </select>
        </label>
        <label>
          Outcome
          <select value={draft.outcome} onChange={(event) => setDraft({ ...draft, outcome: event.currentTarget.value })}>
            <option value="">any</option>
            {OUTCOMES.map((outcome) => (
              <option key={outcome} value={outcome}>
                {outcome}
              </option>
            ))}
          </select>
        </label>
        <button type="submit" class="secondary">
          Apply filter
        </button>
      </form>
      <ErrorMessage error={page.error} />
      <div class="table-wrap">
        <table data-testid="audit-table">
          <caption class="sr-only">Audit entries, newest first</caption>
          <thead>
            <tr>
              <th scope="col">#</th>
              <th scope="col">When</th>
              <th scope="col">Actor</th>
              <th scope="col">Action</th>
              <th scope="col">Outcome</th>
              <th scope="col">Reason</th>
              <th scope="col">Before → after</th>
            </tr>
          </thead>
          <tbody>
            {items.map((entry) => (
              <tr key={entry.id} data-testid="audit-row" data-action={entry.action} data-outcome={entry.outcome ?? 'event'}>
                <td>{entry.id}</td>
                <td class="nowrap">{formatTime(entry.created_at)}</td>
                <td>{entry.actor}</td>
                <td class="nowrap">{entry.action}</td>
                <td>
                  <span class={`pill ${entry.outcome ?? 'event'}`}>{entry.outcome ?? 'event'}</span>
                  {entry.unmet_conditions !== undefined && entry.unmet_conditions.length > 0 ? (
                    <span class="muted"> unmet: {entry.unmet_conditions.join(', ')}</span>
                  ) : null}
                </td>
                <td>{entry.reason}</td>
                <td>
                  <Diff entry={entry} />
                </td>
              </tr>
            ))}
          </tbody>
        </table>
      </div>
      {page.data !== undefined && items.length === 0 ? <p class="muted">No entries match.</p> : null}
      <div class="button-row">
        <button type="button" class="secondary" disabled={cursors.length === 0} onClick={() => setCursors([])}>
          Newest
        </button>
        <button type="button" class="secondary" disabled={cursors.length === 0} onClick={() => setCursors(cursors.slice(0, -1))}>
          Newer
        </button>
        <button
          type="button"
          class="secondary"
          disabled={page.data?.next == null}
          onClick={() => {
            const next = page.data?.next;
            if (next !== null && next !== undefined) setCursors([...cursors, next]);
          }}
        >
          Older
        </button>
      </div>
    </section>
  );
};
