import { MAX_JOB_DATA_BYTES } from '@valhalla/contract';
import { Worker, type Job, type JobJson } from 'bullmq';

/** Jobs whose data was over the limit, with its size: their data was replaced by `{}` before parsing. */
const oversized = new WeakMap<Job, number>();

/** The size of a job's data when it was over MAX_JOB_DATA_BYTES (and never parsed), else undefined. */
export const oversizedDataBytes = (job: Job): number | undefined => oversized.get(job);

/**
 * A BullMQ Worker that never parses job data over MAX_JOB_DATA_BYTES. BullMQ's moveToActive script returns the whole
 * job hash (HGETALL), so the raw string is received whatever we do (that part cannot be bounded without changing
 * BullMQ; see the README); what this bounds is the JSON.parse of it, the object graph it builds and its lifetime:
 * the string is dropped at once and the processor fails the job as INVALID_PAYLOAD.
 */
export class BoundedWorker extends Worker {
  protected override createJob(data: JobJson, jobId: string): Job {
    const raw = data.data;
    // UTF-8 needs at least one byte per UTF-16 unit, so a long string is over the limit without measuring it.
    const bytes = typeof raw !== 'string' ? 0 : raw.length > MAX_JOB_DATA_BYTES ? raw.length : Buffer.byteLength(raw, 'utf8');
    if (bytes <= MAX_JOB_DATA_BYTES) return super.createJob(data, jobId);
    const job = super.createJob({ ...data, data: '{}' }, jobId);
    oversized.set(job, bytes);
    return job;
  }
}
