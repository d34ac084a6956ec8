import { z } from 'zod';
import { isErrorCode, type ErrorCode } from './errorCodes.js';
import { JOB_FAILURE_CODES, type JobFailureCode } from './failureCodes.js';

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

export const jobFailureOf = (code: JobFailureCode, message: string): JobFailure => ({
  code,
  message: message.slice(0, 2000),
  final: JOB_FAILURE_CODES[code].final,
});

/** The record of a failure that carries none of ours (BullMQ's own, another worker's): it needs a person. */
export const unrecordedJobFailure = (): JobFailure =>
  jobFailureOf('JOB_INTERRUPTED', 'the job failed outside the worker (for example after stalling repeatedly); see the worker log');

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
  return unrecordedJobFailure();
};
