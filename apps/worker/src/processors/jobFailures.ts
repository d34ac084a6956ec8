import { encodeJobFailure, jobFailureOf, unrecordedJobFailure, type JobFailure, type JobFailureCode } from '@valhalla/contract';
import { UnrecoverableError } from 'bullmq';

/**
 * Failures travel through the worker as data: the processor throws an error carrying its failure record, and the
 * wrappers (logging, metrics) branch on the error's class and read `failure`. The record becomes text once, for the
 * process boundary: the error's `message` is what BullMQ stores as the job's failedReason, which the api, the CLI and
 * metrics read back with decodeJobFailure. Nothing in this process parses a message.
 */

/** A final failure: BullMQ fails the job at once (an UnrecoverableError is never retried). */
export class FinalJobFailure extends UnrecoverableError {
  readonly failure: JobFailure;

  constructor(failure: JobFailure) {
    super(encodeJobFailure(failure));
    this.failure = failure;
  }
}

/**
 * An error the worker did not expect (a bug). Its details go to the log; the job carries a record that says so, and
 * BullMQ's attempts decide whether it runs again.
 */
export class UnexpectedJobFailure extends Error {
  readonly failure: JobFailure = jobFailureOf('INTERNAL_ERROR', 'the worker failed unexpectedly; its log has the details under this job id');

  constructor() {
    super();
    this.message = encodeJobFailure(this.failure);
    this.name = 'UnexpectedJobFailure';
  }
}

export const finalFailureOf = (code: JobFailureCode, message: string): FinalJobFailure => new FinalJobFailure(jobFailureOf(code, message));

/**
 * The failure record an attempt ended with: the one its error carries, or, for an error that carries none (thrown
 * past the processor's own handling), the record of a failure made outside the worker's knowledge.
 */
export const failureCarriedBy = (error: unknown): JobFailure =>
  error instanceof FinalJobFailure || error instanceof UnexpectedJobFailure ? error.failure : unrecordedJobFailure();
