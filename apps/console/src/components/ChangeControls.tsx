import { useState } from 'preact/hooks';
import { runVerification, setBackendComplete, setGoLive, setKillSwitch } from '../api/calls.js';
import type { Accepted, LiveState, RunbookStatus } from '../api/types.js';
import { goLivePreconditions, type Precondition } from '../live/preconditions.js';
import { ActionStatusLine } from './ActionStatusLine.js';
import { useAction } from './useAction.js';

type Tone = 'primary' | 'danger' | 'secondary';
type Control = { id: string; label: string; send: (reason: string) => Promise<Accepted>; tone: Tone; needsReason: boolean };

/** The action that meets each precondition, in the order of goLivePreconditions. */
const STEP_FOR: Record<Precondition['condition'], string> = {
  verification_passed: 'verify',
  backend_complete: 'backend-complete',
  kill_switch_released: 'release',
};

const UNMET_TEXT: Record<Precondition['condition'], string> = {
  verification_passed: 'a passed verification of the current migration head',
  backend_complete: 'the backend marked complete',
  kill_switch_released: 'the kill switch released',
};

/**
 * The changes that fit the state, and which one is the primary action: on the way to live, the next unmet
 * precondition's action, then Enable once all are met. Enable is never primary while one is unmet (or not known
 * yet); it stays available (the api decides, and says why it refuses), with the unmet ones named beside it. Once
 * go-live is enabled nothing is primary: releasing an engaged kill switch then makes the service live, a decision
 * the page does not push. The kill switch is engaged only through the banner's form.
 */
const controlsFor = (state: LiveState, preconditions: Precondition[]): { controls: Control[]; unmet: Precondition[] } => {
  const unmet = preconditions.filter((item) => item.met !== true);
  const next = state.go_live_enabled ? undefined : unmet.find((item) => item.met === false);
  const primary = state.go_live_enabled ? undefined : unmet.length === 0 ? 'enable' : next === undefined ? undefined : STEP_FOR[next.condition];
  const tone = (id: string): Tone => (id === primary ? 'primary' : 'secondary');
  const controls: Control[] = [
    { id: 'verify', label: 'Run verification', send: () => runVerification(), tone: tone('verify'), needsReason: false },
    state.backend_complete
      ? { id: 'backend-incomplete', label: 'Mark backend not complete', send: (reason) => setBackendComplete(false, reason), tone: 'secondary', needsReason: true }
      : { id: 'backend-complete', label: 'Mark backend complete', send: (reason) => setBackendComplete(true, reason), tone: tone('backend-complete'), needsReason: true },
    ...(state.kill_switch_engaged
      ? [{ id: 'release', label: 'Release kill switch', send: (reason: string) => setKillSwitch(false, reason), tone: tone('release'), needsReason: true }]
      : []),
    state.go_live_enabled
      ? { id: 'disable', label: 'Disable go-live', send: (reason) => setGoLive(false, reason), tone: 'danger', needsReason: true }
      : { id: 'enable', label: 'Enable go-live', send: (reason) => setGoLive(true, reason), tone: tone('enable'), needsReason: true },
  ];
  return { controls, unmet };
};

/** "a, b and c". */
const listed = (items: string[]): string => (items.length < 2 ? (items[0] ?? '') : `${items.slice(0, -1).join(', ')} and ${items.at(-1) ?? ''}`);

/** One sentence under the buttons: what Enable still needs, or what Release would do. */
const Guidance = ({ state, unmet }: { state: LiveState; unmet: Precondition[] }) => {
  if (state.go_live_enabled) {
    return state.kill_switch_engaged ? (
      <p class="note" id="changes-guidance" data-testid="changes-guidance">
        Go-live is enabled: releasing the kill switch makes the service <strong>LIVE</strong>.
      </p>
    ) : null;
  }
  if (unmet.length === 0) {
    return (
      <p class="note" id="changes-guidance" data-testid="changes-guidance">
        Every precondition is met: enabling go-live makes the service <strong>LIVE</strong>.
      </p>
    );
  }
  const unknown = unmet.filter((item) => item.met === undefined);
  return (
    <p class="note" id="changes-guidance" data-testid="changes-guidance">
      Enable go-live needs {listed(unmet.map((item) => UNMET_TEXT[item.condition]))}
      {unknown.length > 0 ? ' (still reading the state)' : ''}: the api refuses it until then.
    </p>
  );
};

/**
 * Run a verification (no reason: it changes nothing), release, backend complete, enable and disable (the reason
 * typed once above the buttons). Each result is followed to its outcome and cleared when the state moves on.
 */
export const ChangeControls = ({ state, status, onDone }: { state: LiveState; status: RunbookStatus | undefined; onDone: () => void }) => {
  const [reason, setReason] = useState('');
  const [missing, setMissing] = useState(false);
  const action = useAction(state.version);
  const busy = action.status.kind === 'sending' || action.status.kind === 'following';
  const { controls, unmet } = controlsFor(state, goLivePreconditions(state, status));
  // Guidance renders exactly when this holds (see Guidance): the buttons only point at a sentence that is there.
  const hasGuidance = !state.go_live_enabled || state.kill_switch_engaged;

  const submit = (control: Control) => {
    if (control.needsReason && reason.trim().length === 0) {
      setMissing(true);
      document.getElementById('change-reason')?.focus();
      return;
    }
    setMissing(false);
    void action.run(control.id === 'verify' ? 'Verification' : control.label, () => control.send(reason.trim())).then((ok) => {
      if (ok && control.needsReason) setReason('');
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
        {controls.map((control) => (
          <button
            key={control.id}
            type="button"
            class={control.tone}
            data-testid={`control-${control.id}`}
            aria-describedby={hasGuidance && (control.id === 'enable' || control.id === 'release') ? 'changes-guidance' : undefined}
            disabled={busy}
            onClick={() => submit(control)}
          >
            {control.label}
          </button>
        ))}
      </div>
      <Guidance state={state} unmet={unmet} />
      <ActionStatusLine status={action.status} testId="change-status" />
    </section>
  );
};
