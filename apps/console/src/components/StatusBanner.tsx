import type { LiveState } from '../api/types.js';
import { formatAge, formatTime, onOff } from '../format.js';
import type { Connection } from '../live/useLiveState.js';

const CONNECTION_TEXT: Record<Connection, string> = {
  connecting: 'connecting…',
  stream: 'live updates',
  polling: 'updates every ½ s',
  offline: 'connection lost, retrying',
};

/** The large LIVE / NOT LIVE status: both flags, and who changed them, when and why. */
export const StatusBanner = ({ state, connection }: { state: LiveState | null; connection: Connection }) => {
  const live = state?.live;
  const tone = live === undefined ? 'unknown' : live ? 'live' : 'not-live';
  return (
    <section class={`banner ${tone}`} aria-labelledby="live-status">
      <div class="banner-main">
        <h2 id="live-status" class="live-word" data-testid="live-status" aria-live="polite">
          {live === undefined ? 'UNKNOWN' : live ? 'LIVE' : 'NOT LIVE'}
        </h2>
        <dl class="flags">
          <div>
            <dt>Kill switch</dt>
            <dd data-testid="kill-switch-state" class={state?.kill_switch_engaged ? 'bad' : 'ok'}>
              {onOff(state?.kill_switch_engaged, 'ENGAGED', 'released')}
            </dd>
          </div>
          <div>
            <dt>Go-live</dt>
            <dd data-testid="go-live-state" class={state?.go_live_enabled ? 'ok' : 'bad'}>
              {onOff(state?.go_live_enabled, 'enabled', 'disabled')}
            </dd>
          </div>
          <div>
            <dt>Backend</dt>
            <dd class={state?.backend_complete ? 'ok' : 'bad'}>{onOff(state?.backend_complete, 'complete', 'not complete')}</dd>
          </div>
        </dl>
      </div>
      <p class="last-change" data-testid="last-change">
        {state === null ? (
          'Reading the state…'
        ) : state.changed_by === null ? (
          'Never changed since install.'
        ) : (
          <>
            Last change by <strong>{state.changed_by}</strong>, {formatTime(state.updated_at)} ({formatAge(state.updated_at)}):{' '}
            <q>{state.reason}</q>
            {/* The state's `version` is the audit id of its newest change; "version" in the console means the backend's. */}
            <span class="muted"> · audit entry #{state.version}</span>
          </>
        )}
      </p>
      <p class="connection muted" data-testid="connection">
        {CONNECTION_TEXT[connection]}
      </p>
    </section>
  );
};
