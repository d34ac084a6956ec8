import { InvalidPayloadError, parseJobPayload, type JobName, type JobPayloads } from '@valhalla/core';
import { UnrecoverableError } from 'bullmq';

/**
 * Validates a job's data against the catalog. An invalid payload can never succeed, so it fails the job at once:
 * BullMQ does not retry an UnrecoverableError. Its message (the job's failedReason) starts with the stable code, as
 * every permanent failure of ours does.
 * @throws UnrecoverableError `INVALID_PAYLOAD: <each bad field>`.
 */
export const parsePayloadOrFail = <N extends JobName>(name: N, data: unknown): JobPayloads[N] => {
  try {
    return parseJobPayload(name, data);
  } catch (error) {
    if (error instanceof InvalidPayloadError) throw new UnrecoverableError(`${error.code}: ${error.message}`);
    throw error;
  }
};

/** A job the queue does not carry (another service enqueued something unknown), or one without an id: never retried. */
export const unrecoverableUnknownJob = (queue: string, name: string): UnrecoverableError =>
  new UnrecoverableError(`INVALID_PAYLOAD: queue ${queue} has no job named ${JSON.stringify(name)}`);
