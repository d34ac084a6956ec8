import type { Queue } from 'bullmq';
import { decodeJobFailure, type JobFailure } from '@valhalla/contract';
import { MAX_JOB_RESULT_BYTES } from '@valhalla/contract';
import type { RedisClient } from './redisConnection.js';

/** What a reader (the api's GET /api/jobs/:id, the retry route) needs of a job: never its data. */
export type JobSummary = {
  id: string;
  queue: string;
  name: string;
  /** BullMQ's state (`waiting`, `prioritized`, `delayed`, `active`, `completed`, `failed`, …). */
  state: string;
  attemptsMade: number;
  /** When the job completed or failed (ms since epoch), or null while it has not. */
  finishedOn: number | null;
  /** The parsed return value, or null (none yet, or larger than MAX_JOB_RESULT_BYTES). */
  result: unknown;
  failure: JobFailure | null;
};

const parseJson = (text: string | null): unknown => {
  if (text === null) return null;
  try {
    return JSON.parse(text) as unknown;
  } catch {
    return null;
  }
};

/**
 * Reads a job's summary field by field, bounded: a job is a Redis hash, and its `data` (up to Redis's 512 MB per
 * value, whoever added it) is never read; `returnvalue` and `failedReason` are read only when HSTRLEN says they are
 * within MAX_JOB_RESULT_BYTES (a longer failedReason is not a record of ours and is never shown). Queue.getJob would
 * HGETALL the whole hash and parse the data: one 100 MB job added to Redis would exhaust the reader's heap.
 * `client` is the ioredis connection the queue was created on.
 * @returns undefined when the queue has no job with this id.
 * @throws whatever ioredis throws when Redis is unreachable.
 */
export const readJobSummary = async (client: RedisClient, queue: Queue, id: string): Promise<JobSummary | undefined> => {
  const key = queue.toKey(id);
  // State first: a job that finishes while it is read then shows its earlier state with its final fields, never a
  // finished state without its result or failure.
  const state = await queue.getJobState(id);
  if (state === 'unknown') return undefined;
  const [[, returnLength], [, reasonLength], [, fields]] = ((await client
    .multi()
    .hstrlen(key, 'returnvalue')
    .hstrlen(key, 'failedReason')
    .hmget(key, 'name', 'attemptsMade', 'atm', 'finishedOn')
    .exec()) ?? []) as [[unknown, number], [unknown, number], [unknown, (string | null)[]]];
  // BullMQ writes attempts as `atm` (older versions: `attemptsMade`).
  const [name, attemptsMadeLegacy, attemptsMade, finishedOn] = fields;
  if (name === null || name === undefined) return undefined;
  const within = (length: number) => length > 0 && length <= MAX_JOB_RESULT_BYTES;
  const wanted = [...(within(returnLength) ? ['returnvalue'] : []), ...(within(reasonLength) ? ['failedReason'] : [])];
  const values = wanted.length === 0 ? [] : await client.hmget(key, ...wanted);
  const read = (field: string): string | null => values[wanted.indexOf(field)] ?? null;
  const returnvalue = read('returnvalue');
  const failedReason = read('failedReason');
  const failure =
    failedReason !== null && failedReason.length > 0
      ? decodeJobFailure(failedReason)
      : reasonLength > MAX_JOB_RESULT_BYTES
        ? decodeJobFailure('')
        : null;
  return {
    id,
    queue: queue.name,
    name,
    state,
    attemptsMade: Number(attemptsMade ?? attemptsMadeLegacy ?? 0),
    finishedOn: finishedOn === null || finishedOn === undefined ? null : Number(finishedOn),
    result: parseJson(returnvalue),
    failure,
  };
};
