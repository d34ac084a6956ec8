import { useState } from 'preact/hooks';
import { runVerification, setBackendComplete, setGoLive, setKillSwitch } from '../api/calls.js';
import type { Accepted, LiveState } from '../api/types.js';
import { ActionStatusLine } from './ActionStatusLine.js';
import { useAction } from './useAction.js';

type Control = { id: string; label: string; send: (reason: string) => Promise<Accepted>; tone?: 'danger' | 'primary' };

/** The changes that fit the current state: the kill switch is engaged here only through the banner's form. */
const controlsFor = (state: LiveState): Control[] => [
  ...(state.kill_switch_engaged ? [{ id: 'release', label: 'Release kill switch', send: (reason: string) => setKillSwitch(false, reason) }] : []),
  state.backend_complete
    ? { id: 'backend-incomplete', label: 'Mark backend not complete', send: (reason: string) => setBackendComplete(false, reason) }
    : { id: 'backend-complete', label: 'Mark backend complete', send: (reason: string) => setBackendComplete(true, reason) },
  state.go_live_enabled
    ? { id: 'disable', label: 'Disable go-live', send: (reason: string) => setGoLive(false, reason), tone: 'danger' as const }
    : { id: 'enable', label: 'Enable go-live', send: (reason: string) => setGoLive(true, reason), tone: 'primary' as const },
];

/**
 * Release, backend complete, enable and disable, each with the reason typed once above the buttons; and a
 * verification run (it needs no reason: it changes nothing). Each result is followed to its outcome.
 */
export const ChangeControls = ({ state, onDone }: { state: LiveState; onDone: () => void }) => {
  const [reason, setReason] = useState('');
  const [missing, setMissing] = useState(false);
  const { status, run } = useAction();
  const busy = status.kind === 'sending' || status.kind === 'following';

  const submit = (control: Control) => {
    if (reason.trim().length === 0) {
      setMissing(true);
      document.getElementById('change-reason')?.focus();
      return;
    }
    setMissing(false);
    void run(control.label, () => control.send(reason.trim())).then((ok) => {
      if (ok) setReason('');
      onDone();
    });
  };

  return (
    <section class="panel" aria-labelledby="changes-title">
      <h2 id="changes-title">Change the state</h2>
      <label for="change-reason">Reason for the change (required)</label>
      <textarea
        id="change-reason"
        rows={2}
        maxLength={500}
        value={reason}
        aria-invalid={missing}
        aria-describedby={missing ? 'change-reason-missing' : undefined}
        onInput={(event) => setReason(event.currentTarget.value)}
      />
      {missing ? (
        <p id="change-reason-missing" class="error" role="alert">
          <span class="code">VALIDATION_FAILED</span> reason: say why before you change the state
        </p>
      ) : null}
      <div class="button-row">
        {controlsFor(state).map((control) => (
          <button key={control.id} type="button" class={control.tone ?? ''} disabled={busy} onClick={() => submit(control)}>
            {control.label}
          </button>
        ))}
        <button
          type="button"
          class="secondary"
          disabled={busy}
          onClick={() => void run('Verification', runVerification).then(() => onDone())}
        >
          Run verification
        </button>
      </div>
      <ActionStatusLine status={status} testId="change-status" />
    </section>
  );
};
