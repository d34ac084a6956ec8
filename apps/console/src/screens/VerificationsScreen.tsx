import { readVerifications } from '../api/calls.js';
import type { LiveState } from '../api/types.js';
import { ErrorMessage } from '../components/ErrorMessage.js';
import { formatTime } from '../format.js';
import { useResource } from '../live/useResource.js';

/** Verification runs, newest first, each with its per-check results; `?run=ID` marks the run the checklist cites. */
export const VerificationsScreen = ({ params, state, head }: { params: URLSearchParams; state: LiveState | null; head: string | undefined }) => {
  const runs = useResource(() => readVerifications(20), [state]);
  const cited = params.get('run');
  return (
    <section class="panel" aria-labelledby="verifications-title">
      <h2 id="verifications-title">Verification runs</h2>
      <ErrorMessage error={runs.error} />
      {runs.data !== undefined && runs.data.items.length === 0 ? <p class="muted">No verification has run yet.</p> : null}
      {(runs.data?.items ?? []).map((run, index) => (
        <article
          key={run.id}
          id={`run-${run.id}`}
          class={`run ${run.passed ? 'run-passed' : 'run-failed'} ${cited === String(run.id) ? 'cited' : ''}`}
          data-testid="verification-run"
          aria-labelledby={`run-title-${run.id}`}
        >
          <h3 id={`run-title-${run.id}`}>
            Run #{run.id}: <span class={run.passed ? 'ok' : 'bad'}>{run.passed ? 'passed' : 'FAILED'}</span>
          </h3>
          <p class="muted">
            deploy {run.release} · migration head {run.migration_head}
            {head !== undefined && run.migration_head !== head ? ' (not the current head)' : ''} · by {run.actor} · finished{' '}
            {formatTime(run.finished_at)}
          </p>
          <details open={!run.passed || index === 0 || cited === String(run.id)}>
            <summary>
              {run.checks.filter((check) => check.status === 'passed').length} of {run.checks.length} checks passed
            </summary>
            <table>
              <caption class="sr-only">Checks of run {run.id}</caption>
              <thead>
                <tr>
                  <th scope="col">Check</th>
                  <th scope="col">Result</th>
                  <th scope="col">Detail</th>
                </tr>
              </thead>
              <tbody>
                {/* Failed checks first: they are what the reader came for. */}
                {[...run.checks]
                  .sort((a, b) => Number(a.status === 'passed') - Number(b.status === 'passed'))
                  .map((check) => (
                    <tr key={check.name}>
                      <td>{check.name}</td>
                      <td>
                        <span class={`pill ${check.status === 'passed' ? 'applied' : 'rejected'}`}>{check.status}</span>
                      </td>
                      <td>{check.detail}</td>
                    </tr>
                  ))}
              </tbody>
            </table>
          </details>
        </article>
      ))}
    </section>
  );
};
