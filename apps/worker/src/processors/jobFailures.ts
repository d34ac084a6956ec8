import { encodeJobFailure, jobFailureOf, type JobFailure, type JobFailureCode } from '@valhalla/contract';
import { UnrecoverableError } from 'bullmq';

/**
 * Failures cross the queue as data: the worker throws errors whose message is the encoded failure record (BullMQ
 * stores the message as the job's failedReason), and every reader decodes it with decodeJobFailure.
 */

/** A final failure: BullMQ fails the job at once (UnrecoverableError is never retried). */
export const finalFailure = (failure: JobFailure): UnrecoverableError => new UnrecoverableError(encodeJobFailure(failure));

export const finalFailureOf = (code: JobFailureCode, message: string): UnrecoverableError => finalFailure(jobFailureOf(code, message));

/**
 * An error the worker did not expect (a bug). Its details go to the log; the job carries a record that says so, and
 * BullMQ's attempts decide whether it runs again.
 */
export const unexpectedFailure = (): Error =>
  new Error(encodeJobFailure(jobFailureOf('INTERNAL_ERROR', 'the worker failed unexpectedly; its log has the details under this job id')));
