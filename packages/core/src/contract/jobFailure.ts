import { z } from 'zod';
import { isErrorCode, type ErrorCode } from '../errors/index.js';

/**
 * The typed failure record of a job: what the worker stores with a failed job (BullMQ's `failedReason`, as JSON) and
 * what the api, the CLI and metrics read back as data. `message` is safe to show to any token holder: it never
 * carries hosts, ports, connection strings, SQL or stacks (those go to the worker's log). `final` is true when
 * running the job again cannot change the outcome (invalid payload, precondition unmet, expired).
 */
export const jobFailure = z
  .strictObject({
    code: z.string().refine(isErrorCode, 'must be a code of the error registry'),
    message: z.string().max(2000),
    final: z.boolean(),
  })
  .meta({ id: 'JobFailure' });
export type JobFailure = { code: ErrorCode; message: string; final: boolean };

/**
 * The codes a job can fail with: whether each is `final` (running the job again cannot change the outcome), and
 * whether it is a `rejection`: the job did its work and the answer was no (a precondition unmet, an engage after
 * it, an invalid payload, a voided enqueue). A rejection is an outcome for whoever asked, never something an
 * operator must act on; the other failures are (an unexpected error, a change that expired unapplied, a job BullMQ
 * gave up on). Alerts and metrics read this table (valhalla_worker_job_failures_total's `rejection` label).
 */
export const JOB_FAILURE_CODES = {
  INVALID_PAYLOAD: { final: true, rejection: true },
  PRECONDITION_FAILED: { final: true, rejection: true },
  SUPERSEDED: { final: true, rejection: true },
  /** Not applied within CHANGE_MAX_AGE_SECONDS (workers down, queue paused, retries through an outage): someone looks. */
  EXPIRED: { final: true, rejection: false },
  /** The api answered 503 without learning whether it accepted the job, and voided its id: it never runs. */
  ENQUEUE_UNCONFIRMED: { final: true, rejection: true },
  /** A failure the worker did not expect (a bug, or a foreign worker): not final, an operator may retry the job. */
  INTERNAL_ERROR: { final: false, rejection: false },
  /** BullMQ failed the job without a record of ours (e.g. it stalled more often than allowed). Not final. */
  JOB_INTERRUPTED: { final: false, rejection: false },
} as const satisfies Partial<Record<ErrorCode, { final: boolean; rejection: boolean }>>;
export type JobFailureCode = keyof typeof JOB_FAILURE_CODES;

export const jobFailureOf = (code: JobFailureCode, message: string): JobFailure => ({
  code,
  message: message.slice(0, 2000),
  final: JOB_FAILURE_CODES[code].final,
});

/** The text BullMQ stores as the job's failedReason. */
export const encodeJobFailure = (failure: JobFailure): string => JSON.stringify(jobFailure.parse(failure));

/** Longest failedReason decodeJobFailure parses; anything longer is not ours. */
const MAX_ENCODED_LENGTH = 4096;

/**
 * Reads a failedReason back. Text that is not a record of ours (BullMQ's own reasons, another worker's message) is
 * never shown, since it may carry internals: it becomes JOB_INTERRUPTED with a fixed message.
 */
export const decodeJobFailure = (failedReason: string): JobFailure => {
  if (failedReason.length <= MAX_ENCODED_LENGTH && failedReason.startsWith('{')) {
    try {
      const parsed = jobFailure.safeParse(JSON.parse(failedReason));
      if (parsed.success) return parsed.data;
    } catch {
      // not JSON: falls through to the fixed record
    }
  }
  return jobFailureOf('JOB_INTERRUPTED', 'the job failed outside the worker (for example after stalling repeatedly); see the worker log');
};
