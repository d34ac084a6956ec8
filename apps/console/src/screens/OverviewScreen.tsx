import type { LiveState, RunbookStatus, Session } from '../api/types.js';
import { ChangeControls } from '../components/ChangeControls.js';
import { ChangeRequests } from '../components/ChangeRequests.js';
import { Checklist } from '../components/Checklist.js';
import { ErrorMessage } from '../components/ErrorMessage.js';
import type { Resource } from '../live/useResource.js';

export const OverviewScreen = ({
  session,
  state,
  status,
  onChanged,
}: {
  session: Session;
  state: LiveState | null;
  status: Resource<RunbookStatus>;
  onChanged: () => void;
}) => (
  <>
    <ErrorMessage error={status.error} />
    <div class="columns">
      <Checklist state={state} status={status.data} />
      {session.role === 'operator' && state !== null ? <ChangeControls state={state} status={status.data} onDone={onChanged} /> : null}
    </div>
    <ChangeRequests session={session} tick={state} onDone={onChanged} />
  </>
);
