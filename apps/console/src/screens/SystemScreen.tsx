import { useState } from 'preact/hooks';
import { readQueues, retryJob } from '../api/calls.js';
import type { FailedJob, LiveState, RunbookStatus, Session } from '../api/types.js';
import { ActionStatusLine } from '../components/ActionStatusLine.js';
import { ErrorMessage } from '../components/ErrorMessage.js';
import { useAction } from '../components/useAction.js';
import { formatAge, formatTime } from '../format.js';
import type { Resource } from '../live/useResource.js';
import { useResource } from '../live/useResource.js';

const Migrations = ({ status }: { status: RunbookStatus | undefined }) => (
  <section class="panel" aria-labelledby="migrations-title">
    <h2 id="migrations-title">Migrations</h2>
    {status === undefined ? null : (
      <>
        <p>
          Head: <strong data-testid="migration-head">{status.migrations.head}</strong> · {status.migrations.applied.length} applied ·{' '}
          <span class={status.migrations.pending.length > 0 ? 'bad' : 'ok'}>{status.migrations.pending.length} pending</span>
        </p>
        <ol class="revisions">
          {status.migrations.applied.map((id) => (
            <li key={id}>
              <span class="pill applied">applied</span> {id}
            </li>
          ))}
          {status.migrations.pending.map((id) => (
            <li key={id}>
              <span class="pill rejected">pending</span> {id}
            </li>
          ))}
        </ol>
      </>
    )}
  </section>
);

const Workers = ({ status }: { status: RunbookStatus | undefined }) => {
  const releases = [...new Set((status?.workers.items ?? []).map((worker) => worker.release))];
  return (
    <section class="panel" aria-labelledby="workers-title">
      <h2 id="workers-title">Workers</h2>
      {status === undefined ? null : (
        <>
          <p>
            <strong class={status.workers.alive > 0 ? 'ok' : 'bad'} data-testid="workers-alive">
              {status.workers.alive} alive
            </strong>{' '}
            · deploys running: {releases.length === 0 ? 'none' : releases.join(', ')}
          </p>
          <table>
            <caption class="sr-only">Worker heartbeats</caption>
            <thead>
              <tr>
                <th scope="col">Worker</th>
                <th scope="col">Deploy</th>
                <th scope="col">Host / pid</th>
                <th scope="col">Started</th>
                <th scope="col">Last heartbeat</th>
              </tr>
            </thead>
            <tbody>
              {status.workers.items.map((worker) => (
                <tr key={worker.worker_id}>
                  <td class="mono">{worker.worker_id}</td>
                  <td>{worker.release}</td>
                  <td>
                    {worker.hostname} / {worker.pid}
                  </td>
                  <td class="nowrap">{formatTime(worker.started_at)}</td>
                  <td class="nowrap">{formatAge(worker.last_seen_at)}</td>
                </tr>
              ))}
            </tbody>
          </table>
        </>
      )}
    </section>
  );
};

const FailedJobRow = ({ job, canRetry, version, onDone }: { job: FailedJob; canRetry: boolean; version: number | null; onDone: () => void }) => {
  const [reason, setReason] = useState('');
  const { status, run } = useAction(version);
  const inputId = `retry-reason-${job.id}`;
  return (
    <tr data-testid="failed-job">
      <td class="mono">{job.id}</td>
      <td>
        {job.queue} / {job.name}
      </td>
      <td>
        <span class="code">{job.error.code}</span> {job.error.message}
      </td>
      <td class="nowrap">{formatTime(job.failed_at)}</td>
      <td>
        {canRetry && !job.error.final ? (
          <form
            class="inline-form"
            onSubmit={(event) => {
              event.preventDefault();
              void run('Retry', () => retryJob(job.id, reason.trim())).then(onDone);
            }}
          >
            <label for={inputId} class="sr-only">
              Reason for retrying job {job.id}
            </label>
            <input id={inputId} required maxLength={500} placeholder="reason" value={reason} onInput={(event) => setReason(event.currentTarget.value)} />
            <button type="submit" class="secondary">
              Retry
            </button>
            <ActionStatusLine status={status} testId={`retry-status-${job.id}`} />
          </form>
        ) : job.error.final ? (
          <span class="muted">final: submit a new change</span>
        ) : null}
      </td>
    </tr>
  );
};

const Queues = ({ session, state }: { session: Session; state: LiveState | null }) => {
  const queues = useResource(readQueues, [state]);
  return (
    <section class="panel" aria-labelledby="queues-title">
      <h2 id="queues-title">Queues</h2>
      <ErrorMessage error={queues.error} />
      <table data-testid="queue-depth">
        <caption class="sr-only">Jobs per queue and state</caption>
        <thead>
          <tr>
            <th scope="col">Queue</th>
            <th scope="col">Waiting</th>
            <th scope="col">Active</th>
            <th scope="col">Delayed</th>
            <th scope="col">Failed</th>
          </tr>
        </thead>
        <tbody>
          {(queues.data?.queues ?? []).map((queue) => (
            <tr key={queue.name}>
              <th scope="row">{queue.name}</th>
              <td>{queue.waiting}</td>
              <td>{queue.active}</td>
              <td>{queue.delayed}</td>
              <td class={queue.failed > 0 ? 'bad' : ''}>{queue.failed}</td>
            </tr>
          ))}
        </tbody>
      </table>
      <h3>Failed jobs</h3>
      {queues.data !== undefined && queues.data.failed.length === 0 ? <p class="muted">None.</p> : null}
      {queues.data !== undefined && queues.data.failed.length > 0 ? (
        <div class="table-wrap">
          <table>
            <caption class="sr-only">Failed jobs, newest first</caption>
            <thead>
              <tr>
                <th scope="col">Job</th>
                <th scope="col">Queue / name</th>
                <th scope="col">Error</th>
                <th scope="col">Failed</th>
                <th scope="col">{session.role === 'operator' ? 'Retry (audited)' : ''}</th>
              </tr>
            </thead>
            <tbody>
              {queues.data.failed.map((job) => (
                <FailedJobRow key={job.id} job={job} canRetry={session.role === 'operator'} version={state?.version ?? null} onDone={queues.reload} />
              ))}
            </tbody>
          </table>
        </div>
      ) : null}
    </section>
  );
};

export const SystemScreen = ({ session, state, status }: { session: Session; state: LiveState | null; status: Resource<RunbookStatus> }) => (
  <>
    <ErrorMessage error={status.error} />
    <div class="columns">
      <Migrations status={status.data} />
      <Workers status={status.data} />
    </div>
    <Queues session={session} state={state} />
  </>
);
