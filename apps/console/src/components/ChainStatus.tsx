import { runVerification } from '../api/calls.js';
import type { AuditChainCoverage, RunbookStatus, Session, VerificationCheck } from '../api/types.js';
import { formatTime } from '../format.js';
import { ActionStatusLine } from './ActionStatusLine.js';
import { useAction } from './useAction.js';

/** The name of the verification check that recomputes the audit log's hash chain (packages/core, AUDIT_CHAIN_CHECK). */
const AUDIT_CHAIN_CHECK = 'audit log hash chain intact';

/** Exactly what a check read: "incremental: rows 12–12 after checkpoint 1", "full: rows 1–11". */
const describeCoverage = (coverage: AuditChainCoverage): string => {
  const first = (coverage.after_row ?? 0) + 1;
  if (coverage.mode === 'full') {
    if (coverage.head_row === null) return `full: stopped after ${coverage.rows} row(s)`;
    return coverage.rows === 0 ? 'full: the log was empty' : `full: rows ${first}–${coverage.head_row}`;
  }
  const after = `after checkpoint ${coverage.after_checkpoint ?? '?'} (row ${coverage.after_row ?? '?'})`;
  if (coverage.head_row === null) return `incremental: stopped after ${coverage.rows} row(s) ${after}`;
  return coverage.rows === 0 ? `incremental: no new rows ${after}` : `incremental: rows ${first}–${coverage.head_row} ${after}`;
};

const VERDICT: Record<VerificationCheck['status'], string> = { passed: 'intact', failed: 'BROKEN', inconclusive: 'not checked', error: 'not checked' };

/** "intact — incremental: rows 12–12 after checkpoint 1": the verdict, then what it covered (or why it failed). */
const describeCheck = (check: VerificationCheck): string =>
  check.status === 'passed' && check.coverage !== undefined ? describeCoverage(check.coverage) : check.detail;

/**
 * The hash chain's status as the verification runs established it, never more: the latest check's verdict and what
 * it covered (scheduled checks are incremental: they read only the rows after the last checkpoint), and when the
 * whole chain was last read. Operators can ask for a full check (an on-demand verification reads every row).
 */
export const ChainStatus = ({
  session,
  status,
  version,
  onDone,
}: {
  session: Session;
  status: RunbookStatus | undefined;
  version: number | null;
  onDone: () => void;
}) => {
  const action = useAction(version);
  const run = status?.last_verification ?? null;
  const check = run?.checks.find((candidate) => candidate.name === AUDIT_CHAIN_CHECK);
  const full = status?.last_full_audit_check;
  const busy = action.status.kind === 'sending' || action.status.kind === 'following';
  return (
    <div class="chain-box">
      {run === null || check === undefined ? (
        <p class="chain muted" data-testid="chain-status">
          Hash chain: not verified yet.
        </p>
      ) : (
        <p class={`chain ${check.status === 'passed' ? 'ok' : 'bad'}`} data-testid="chain-status">
          Hash chain: <strong>{VERDICT[check.status]}</strong> — {describeCheck(check)}; checked {formatTime(run.finished_at)} (verification run #
          {run.id}).
        </p>
      )}
      {full === undefined ? null : (
        <p class="muted" data-testid="chain-full-check">
          {full === null
            ? 'Last full check: none recorded.'
            : run !== null && full.run_id === run.id
              ? 'Last full check: this one.'
              : `Last full check: ${VERDICT[full.check.status]} — ${describeCheck(full.check)}; ${formatTime(full.finished_at)} (verification run #${full.run_id}).`}
        </p>
      )}
      {session.role === 'operator' ? (
        <div class="button-row">
          <button
            type="button"
            class="secondary"
            data-testid="run-full-check"
            disabled={busy}
            onClick={() => void action.run('Full check', runVerification).then(onDone)}
          >
            Run a full check
          </button>
          <ActionStatusLine status={action.status} testId="full-check-status" />
        </div>
      ) : null}
    </div>
  );
};
