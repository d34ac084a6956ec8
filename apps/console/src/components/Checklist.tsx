import type { LiveState, RunbookStatus } from '../api/types.js';
import { formatTime } from '../format.js';

type Item = { id: string; label: string; met: boolean | undefined; detail: string; evidence: { href: string; text: string } };

const itemsFor = (state: LiveState | null, status: RunbookStatus | undefined): Item[] => {
  const head = status?.migrations.head;
  const run = status?.last_verification ?? null;
  const runForHead = run !== null && run.migration_head === head ? run : null;
  return [
    {
      id: 'kill-switch',
      label: 'Kill switch released',
      met: state === null ? undefined : !state.kill_switch_engaged,
      detail: state === null ? '' : state.kill_switch_engaged ? 'engaged' : 'released',
      evidence: { href: '#/audit?action=kill_switch.release', text: 'releases in the audit log' },
    },
    {
      id: 'backend',
      label: 'Backend complete',
      met: status?.system_metadata?.backend_complete,
      detail:
        status?.system_metadata === null || status === undefined
          ? ''
          : status.system_metadata.backend_complete
            ? `since ${formatTime(status.system_metadata.completed_at)}`
            : 'not marked complete',
      evidence: { href: '#/audit?action=metadata.update', text: 'metadata changes in the audit log' },
    },
    {
      id: 'verification',
      label: 'Verification passed for the current migration head',
      met: status === undefined ? undefined : runForHead?.passed === true,
      detail:
        status === undefined
          ? ''
          : runForHead === null
            ? `no run for head ${head ?? '?'}${run === null ? '' : ` (latest run was for ${run.migration_head})`}`
            : `run #${runForHead.id} ${runForHead.passed ? 'passed' : 'failed'} at ${formatTime(runForHead.finished_at)} (head ${runForHead.migration_head})`,
      evidence: { href: runForHead === null ? '#/verifications' : `#/verifications?run=${runForHead.id}`, text: 'verification runs' },
    },
  ];
};

/** Why not live: the three conditions go-live enable needs, each with its state and a link to the evidence. */
export const Checklist = ({ state, status }: { state: LiveState | null; status: RunbookStatus | undefined }) => (
  <section class="panel" aria-labelledby="checklist-title">
    <h2 id="checklist-title">Go-live checklist</h2>
    <ul class="checklist">
      {itemsFor(state, status).map((item) => (
        <li key={item.id} data-testid={`check-${item.id}`} data-met={item.met === undefined ? 'unknown' : String(item.met)}>
          <span class={`mark ${item.met === true ? 'ok' : item.met === false ? 'bad' : ''}`} aria-hidden="true">
            {item.met === true ? '✓' : item.met === false ? '✗' : '…'}
          </span>
          <span class="check-text">
            <strong>{item.label}</strong>
            <span class="sr-only">{item.met === true ? ': met' : item.met === false ? ': not met' : ': unknown'}</span>
            <span class="muted"> — {item.detail}</span>{' '}
            <a href={item.evidence.href}>{item.evidence.text}</a>
          </span>
        </li>
      ))}
    </ul>
  </section>
);
