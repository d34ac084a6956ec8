import { describeStatus, type ActionStatus } from './useAction.js';

/** The outcome of the last action of a form, in a live region so it is read out when it changes. */
export const ActionStatusLine = ({ status, testId }: { status: ActionStatus; testId: string }) => {
  const line = describeStatus(status);
  return (
    <p class={`status-line ${line?.tone ?? ''}`} role="status" aria-live="polite" data-testid={testId}>
      {line?.text ?? ''}
    </p>
  );
};
