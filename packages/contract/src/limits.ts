/**
 * Largest job data (the `data` field of the job's Redis hash, JSON, in bytes) the worker and the api accept. A
 * governance payload is well under 4 KiB; anything bigger is refused as INVALID_PAYLOAD without being parsed.
 */
export const MAX_JOB_DATA_BYTES = 64 * 1024;

/** Largest returnvalue or failedReason the api reads back from a job hash (ours are well under 8 KiB). */
export const MAX_JOB_RESULT_BYTES = 64 * 1024;
