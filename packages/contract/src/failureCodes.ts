import { ERROR_CODES, type ErrorCode } from './errorCodes.js';

/*
 * The failure table, without zod: the CLI reads it on every run, and loading the schema library for one lookup would
 * triple its start-up time.
 */

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

const isJobFailureCode = (code: string): code is JobFailureCode => Object.hasOwn(JOB_FAILURE_CODES, code);

/**
 * The one answer to "is this failure a rejection" (see JOB_FAILURE_CODES): false for a code that is not a job
 * failure's, or none.
 */
export const isRejection = (code: string | undefined): boolean => code !== undefined && isJobFailureCode(code) && JOB_FAILURE_CODES[code].rejection;

/** A code a change committed as rejected is recorded with (its result's `rejectedAs`). */
export type ChangeRejectedCode = { [C in JobFailureCode]: (typeof JOB_FAILURE_CODES)[C]['audited'] extends true ? C : never }[JobFailureCode];
export const CHANGE_REJECTED_CODES = (Object.keys(JOB_FAILURE_CODES) as JobFailureCode[]).filter((code) => JOB_FAILURE_CODES[code].audited) as [
  ChangeRejectedCode,
  ...ChangeRejectedCode[],
];

