import { z } from 'zod';
import { ERROR_CODES, isErrorCode, type ErrorCode } from './errorCodes.js';

/**
 * The typed failure record of a job: what a failed job carries (`GET /api/jobs/:id`'s `error`, the CLI, metrics).
 * `message` is safe to show to any token holder: it never carries hosts, ports, connection strings, SQL or stacks
 * (those go to the worker's log). `final` is true when running the job again cannot change the outcome (invalid
 * payload, precondition unmet, expired).
 */
export const jobFailure = z
  .strictObject({
    code: z.string().refine(isErrorCode, 'must be a code of the error registry'),
    message: z.string().max(2000),
    final: z.boolean(),
  })
  .meta({ id: 'JobFailure' });
export type JobFailure = { code: ErrorCode; message: string; final: boolean };

type FailureFlags = {
  /** Running the job again cannot change the outcome: the job is failed at once and never retried. */
  final: boolean;
  /**
   * The job did its work and the answer was no: an outcome for whoever asked, never something an operator must act
   * on. The CLI exits 2 for it; alerts and metrics tell it from the failures that need a person
   * (valhalla_worker_job_failures_total's `rejection` label).
   */
  rejection: boolean;
  /** The worker committed the change as rejected, with an audit entry naming why (a change result's `rejectedAs`). */
  audited: boolean;
  /** The HTTP status of the code in the error registry. */
  status: number;
};

const flags = <const F extends Omit<FailureFlags, 'status'>>(code: ErrorCode, flagsOfCode: F): F & { status: number } => ({ ...flagsOfCode, status: ERROR_CODES[code].status });

/**
 * The codes a job can fail with, each with its flags: the one table that answers "is this failure final", "is it a
 * rejection" and "was the change audited as rejected" for every process.
 */
export const JOB_FAILURE_CODES = {
  INVALID_PAYLOAD: flags('INVALID_PAYLOAD', { final: true, rejection: true, audited: false }),
  PRECONDITION_FAILED: flags('PRECONDITION_FAILED', { final: true, rejection: true, audited: true }),
  /** An engage or disable created after the change was applied first. */
  SUPERSEDED: flags('SUPERSEDED', { final: true, rejection: true, audited: true }),
  /** Not applied within CHANGE_MAX_AGE_SECONDS (workers down, queue paused, retries through an outage): someone looks. */
  EXPIRED: flags('EXPIRED', { final: true, rejection: false, audited: true }),
  /** The api answered 503 without learning whether it accepted the job, and voided its id: it never runs. */
  ENQUEUE_UNCONFIRMED: flags('ENQUEUE_UNCONFIRMED', { final: true, rejection: true, audited: true }),
  /** A failure the worker did not expect (a bug, or a foreign worker): not final, an operator may retry the job. */
  INTERNAL_ERROR: flags('INTERNAL_ERROR', { final: false, rejection: false, audited: false }),
  /** BullMQ failed the job without a record of ours (e.g. it stalled more often than allowed). Not final. */
  JOB_INTERRUPTED: flags('JOB_INTERRUPTED', { final: false, rejection: false, audited: false }),
} as const satisfies Partial<Record<ErrorCode, FailureFlags>>;
export type JobFailureCode = keyof typeof JOB_FAILURE_CODES;

/** A code a change committed as rejected is recorded with (its result's `rejectedAs`). */
export type ChangeRejectedCode = { [C in JobFailureCode]: (typeof JOB_FAILURE_CODES)[C]['audited'] extends true ? C : never }[JobFailureCode];
export const CHANGE_REJECTED_CODES = (Object.keys(JOB_FAILURE_CODES) as JobFailureCode[]).filter((code) => JOB_FAILURE_CODES[code].audited) as [
  ChangeRejectedCode,
  ...ChangeRejectedCode[],
];

export const jobFailureOf = (code: JobFailureCode, message: string): JobFailure => ({
  code,
  message: message.slice(0, 2000),
  final: JOB_FAILURE_CODES[code].final,
});

/** The text BullMQ stores as the job's failedReason: made only where the record leaves the worker. */
export const encodeJobFailure = (failure: JobFailure): string => JSON.stringify(jobFailure.parse(failure));

/** Longest failedReason decodeJobFailure parses; anything longer is not ours. */
const MAX_ENCODED_LENGTH = 4096;

/**
 * Reads a failedReason back, in whatever process reads it from Redis. Text that is not a record of ours (BullMQ's own
 * reasons, another worker's message) is never shown, since it may carry internals: it becomes JOB_INTERRUPTED with a
 * fixed message.
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
