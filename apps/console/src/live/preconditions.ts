import type { GoLivePrecondition } from '@valhalla/contract';
import type { LiveState, RunbookStatus } from '../api/types.js';
import { formatTime } from '../format.js';

/**
 * The conditions go-live enable needs (the api's GO_LIVE_PRECONDITIONS; a rejection names the unmet ones with the
 * same strings), as this console can see them: `met` is undefined until the data to judge it has arrived. Listed in
 * the order an operator meets them: verify the deploy, mark the backend complete, then release the kill switch.
 */
export type Precondition = {
  /** The contract's names of the conditions (approval, with four-eyes, is not a state the console can show). */
  condition: Exclude<GoLivePrecondition, 'approval'>;
  label: string;
  met: boolean | undefined;
  detail: string;
};

export const goLivePreconditions = (state: LiveState | null, status: RunbookStatus | undefined): Precondition[] => {
  const head = status?.migrations.head;
  const run = status?.last_verification ?? null;
  const runForHead = run !== null && run.migration_head === head ? run : null;
  return [
    {
      condition: 'verification_passed',
      label: 'Verification passed for the current migration head',
      met: status === undefined ? undefined : runForHead?.passed === true,
      detail:
        status === undefined
          ? ''
          : runForHead === null
            ? `no run for head ${head ?? '?'}${run === null ? '' : ` (latest run was for ${run.migration_head})`}`
            : `run #${runForHead.id} ${runForHead.passed ? 'passed' : 'failed'} at ${formatTime(runForHead.finished_at)} (head ${runForHead.migration_head})`,
    },
    {
      condition: 'backend_complete',
      label: 'Backend complete',
      met: status?.system_metadata?.backend_complete,
      detail:
        status?.system_metadata === null || status === undefined
          ? ''
          : status.system_metadata.backend_complete
            ? `since ${formatTime(status.system_metadata.completed_at)}`
            : 'not marked complete',
    },
    {
      condition: 'kill_switch_released',
      label: 'Kill switch released',
      met: state === null ? undefined : !state.kill_switch_engaged,
      detail: state === null ? '' : state.kill_switch_engaged ? 'engaged' : 'released',
    },
  ];
};
