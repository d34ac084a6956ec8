import { useState } from 'preact/hooks';
import { setKillSwitch } from '../api/calls.js';
import { ActionStatusLine } from './ActionStatusLine.js';
import { useAction } from './useAction.js';

/**
 * Engage kill switch: one field, one button, on every screen, no confirmation dialog. The reason is required by the
 * api and by the field; an empty submit is refused by the browser with the field focused. Its result is cleared
 * once the state moves past it (`version`).
 */
export const EngageKillSwitch = ({ version, onDone }: { version: number | null; onDone: () => void }) => {
  const [reason, setReason] = useState('');
  const { status, run } = useAction(version);
  const busy = status.kind === 'sending';
  return (
    <form
      class="engage"
      aria-labelledby="engage-title"
      onSubmit={(event) => {
        event.preventDefault();
        void run('Engage kill switch', () => setKillSwitch(true, reason.trim())).then((ok) => {
          if (ok) setReason('');
          onDone();
        });
      }}
    >
      <h2 id="engage-title" class="engage-title">
        Emergency stop
      </h2>
      <label for="engage-reason">Reason (required)</label>
      <div class="engage-row">
        <input
          id="engage-reason"
          name="reason"
          required
          pattern=".*\S.*"
          title="Say why, in a few words"
          maxLength={500}
          autoComplete="off"
          value={reason}
          onInput={(event) => setReason(event.currentTarget.value)}
          placeholder="e.g. error rate above 5 %"
        />
        <button type="submit" class="danger" disabled={busy}>
          Engage kill switch
        </button>
      </div>
      <ActionStatusLine status={status} testId="engage-status" />
    </form>
  );
};
