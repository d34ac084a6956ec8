import type { LiveState, RunbookStatus } from '../api/types.js';
import { goLivePreconditions, type Precondition } from '../live/preconditions.js';

/** Where each condition's evidence is: the audit entries or the verification run behind it. */
const evidenceFor = (condition: Precondition['condition'], status: RunbookStatus | undefined): { id: string; href: string; text: string } => {
  switch (condition) {
    case 'verification_passed': {
      const run = status?.last_verification ?? null;
      const cited = run !== null && run.migration_head === status?.migrations.head ? run : null;
      return { id: 'verification', href: cited === null ? '#/verifications' : `#/verifications?run=${cited.id}`, text: 'verification runs' };
    }
    case 'backend_complete':
      return { id: 'backend', href: '#/audit?action=metadata.update', text: 'metadata changes in the audit log' };
    case 'kill_switch_released':
      return { id: 'kill-switch', href: '#/audit?action=kill_switch.release', text: 'releases in the audit log' };
    default: {
      const unreachable: never = condition;
      return unreachable;
    }
  }
};

/** Why not live: the three conditions go-live enable needs, each with its state and a link to the evidence. */
export const Checklist = ({ state, status }: { state: LiveState | null; status: RunbookStatus | undefined }) => (
  <section class="panel" aria-labelledby="checklist-title">
    <h2 id="checklist-title">Go-live checklist</h2>
    <ul class="checklist">
      {goLivePreconditions(state, status).map((item) => {
        const evidence = evidenceFor(item.condition, status);
        return (
          <li key={item.condition} data-testid={`check-${evidence.id}`} data-met={item.met === undefined ? 'unknown' : String(item.met)}>
            <span class={`mark ${item.met === true ? 'ok' : item.met === false ? 'bad' : ''}`} aria-hidden="true">
              {item.met === true ? '✓' : item.met === false ? '✗' : '…'}
            </span>
            <span class="check-text">
              <strong>{item.label}</strong>
              <span class="sr-only">{item.met === true ? ': met' : item.met === false ? ': not met' : ': unknown'}</span>
              <span class="muted"> — {item.detail}</span> <a href={evidence.href}>{evidence.text}</a>
            </span>
          </li>
        );
      })}
    </ul>
  </section>
);
