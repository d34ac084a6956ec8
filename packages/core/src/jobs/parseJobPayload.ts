import { InvalidPayloadError } from '../errors/index.js';
import { JOB_CATALOG, type JobName, type JobPayloads } from '@valhalla/contract';

/**
 * Validates a payload against the contract.
 * @throws InvalidPayloadError naming each bad field.
 */
export const parseJobPayload = <N extends JobName>(name: N, data: unknown): JobPayloads[N] => {
  const result = JOB_CATALOG[name].payload.safeParse(data);
  if (!result.success) {
    throw new InvalidPayloadError(
      result.error.issues.map((issue) => ({ field: issue.path.join('.') || '(root)', message: issue.message })),
    );
  }
  return result.data as JobPayloads[N];
};
