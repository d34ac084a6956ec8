import { isRejection } from '@valhalla/contract/failureCodes';
import { ApiCallError, type ApiClient } from './apiClient.js';
import type { ChangeRequestAccepted, JobAccepted, JobBody as Job, JobCompleted } from '@valhalla/contract';
import { jobError } from './jobError.js';
import { EXIT, UsageError, type CommandContext } from './command.js';
import { keyValues } from './format.js';

/** Reads of a finished job without its result or error tolerated before taking it as it is. */
const INCOMPLETE_FINISHED_READS = 3;

export const waitForJob = async (api: ApiClient, id: string, timeoutMs: number, intervalMs: number): Promise<Job> => {
  const deadline = Date.now() + timeoutMs;
  let incompleteReads = 0;
  for (;;) {
    const job = await api.get<Job>(`/api/jobs/${encodeURIComponent(id)}`);
    if (job.state === 'completed' || job.state === 'failed') {
      // The API reads the job, then its state: a job finishing in between shows its final state with the data of
      // before (no error yet, no result yet). Read again rather than report a failure without its code.
      const complete = job.state === 'failed' ? jobError(job.error) !== undefined : job.result !== null;
      incompleteReads += 1;
      if (complete || incompleteReads >= INCOMPLETE_FINISHED_READS) return job;
      await new Promise((resolve) => setTimeout(resolve, Math.min(intervalMs, 50)));
      continue;
    }
    if (Date.now() > deadline) throw new ApiCallError('WAIT_TIMEOUT', `job ${id} is still ${job.state} after ${timeoutMs / 1000} s`);
    await new Promise((resolve) => setTimeout(resolve, intervalMs));
  }
};

/**
 * A finished job's exit code: a job failed with a rejection (the contract's failure table: an unmet precondition, a
 * superseded or voided change, an invalid payload) is 2; any other failed job (one that needs a person: expired,
 * interrupted, an internal error), or a verification run that failed, is 1.
 */
export const jobExitCode = (job: Job): number => {
  if (job.state === 'failed') return isRejection(jobError(job.error)?.code) ? EXIT.rejected : EXIT.error;
  return (job.result as { passed?: unknown } | null)?.passed === false ? EXIT.error : EXIT.done;
};

export const describeJob = (job: Job): string => {
  const result = job.result as { outcome?: string; passed?: boolean } | null;
  const error = jobError(job.error);
  const outcome =
    job.state === 'failed'
      ? `${error?.code ?? 'FAILED'}: ${error?.message ?? ''}${error?.final === true ? ' (final: submit a new change)' : ''}`
      : (result?.outcome ?? (result?.passed === undefined ? job.state : result.passed ? 'passed' : 'failed'));
  return keyValues([
    ['job', job.id],
    ['queue', `${job.queue} / ${job.name}`],
    ['state', job.state],
    ['attempts', job.attempts],
    ['outcome', outcome],
  ]);
};

/** `--timeout SECONDS` of --wait, in milliseconds (default 60 s). */
export const waitTimeoutMs = (value: string | undefined): number => {
  if (value === undefined) return 60_000;
  const seconds = Number(value);
  if (!Number.isFinite(seconds) || seconds <= 0 || seconds > 86_400) throw new UsageError('--timeout takes a number of seconds (0 < s <= 86400)');
  return seconds * 1000;
};

/** The outcome a change's result names (`applied`, `unchanged`…), if it names one. */
const outcomeOf = (result: unknown): string | undefined =>
  typeof result === 'object' && result !== null && 'outcome' in result && typeof result.outcome === 'string' ? result.outcome : undefined;

/**
 * What the api did with a change, in one line: an engage or disable is applied in the request (status `completed`,
 * with its outcome; a replay of an executed change answers the same way); anything else is queued, and an engage
 * queued while PostgreSQL is unreachable says so in `detail`.
 */
const acceptedLine = (jobId: string, answer: JobAccepted | JobCompleted | undefined): string => {
  if (answer?.status === 'completed') return `applied in the request: job ${jobId}, outcome ${outcomeOf(answer.result) ?? 'completed'}`;
  return answer?.detail === undefined ? `queued job ${jobId}` : `queued job ${jobId}: ${answer.detail}`;
};

/** POSTs a change and prints the queued job, or with --wait the finished job, returning its exit code. */
export const enqueue = async (context: CommandContext, path: string, body: unknown, fallbackJobId?: string): Promise<number> => {
  const timeoutMs = waitTimeoutMs(context.option('--timeout'));
  const api = context.api();
  const queued = await api.post<JobAccepted | JobCompleted | ChangeRequestAccepted | undefined>(path, body);
  // APPROVALS_REQUIRED > 1: an enable or release becomes a change request instead of a job.
  if (queued !== undefined && 'changeRequestId' in queued) {
    context.print(`change request ${queued.changeRequestId} waits for approval (valhalla approve ${queued.changeRequestId} --reason ...)`, queued);
    return EXIT.done;
  }
  const jobId = queued?.jobId ?? fallbackJobId;
  if (jobId === undefined) throw new ApiCallError('BAD_RESPONSE', `POST ${path} answered without a jobId`);
  if (!context.args.options.has('--wait')) {
    context.print(acceptedLine(jobId, queued), queued);
    return EXIT.done;
  }
  const job = await waitForJob(api, jobId, timeoutMs, context.pollIntervalMs);
  context.print(describeJob(job), job);
  return jobExitCode(job);
};
