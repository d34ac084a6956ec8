import { InvalidPayloadError, parseJobPayload } from '@valhalla/core';
import { MAX_JOB_DATA_BYTES, type JobName, type JobPayloads } from '@valhalla/contract';
import type { Job, UnrecoverableError } from 'bullmq';
import { oversizedDataBytes } from '../boundedWorker.js';
import { finalFailureOf } from './jobFailures.js';

/**
 * Validates a job's data against the contract. An invalid payload can never succeed, so it fails the job at once
 * (final INVALID_PAYLOAD record naming each bad field); data over MAX_JOB_DATA_BYTES was never parsed (see
 * boundedWorker.ts) and fails the same way.
 * @throws UnrecoverableError carrying the INVALID_PAYLOAD record.
 */
export const parsePayloadOrFail = <N extends JobName>(name: N, job: Job): JobPayloads[N] => {
  const oversized = oversizedDataBytes(job);
  if (oversized !== undefined) {
    throw finalFailureOf('INVALID_PAYLOAD', `job data is ${oversized} bytes; the limit is ${MAX_JOB_DATA_BYTES} bytes`);
  }
  try {
    return parseJobPayload(name, job.data);
  } catch (error) {
    if (error instanceof InvalidPayloadError) throw finalFailureOf('INVALID_PAYLOAD', error.message);
    throw error;
  }
};

/** A job the queue does not carry (another service enqueued something unknown), or one without an id: never retried. */
export const unrecoverableUnknownJob = (queue: string, name: string): UnrecoverableError =>
  finalFailureOf('INVALID_PAYLOAD', `queue ${queue} has no job named ${JSON.stringify(name.slice(0, 100))}`);
