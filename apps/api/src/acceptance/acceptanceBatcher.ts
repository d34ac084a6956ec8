import { acceptJob, acceptJobs, isRetryableDatabaseError, type AcceptedJob, type DatabasePool } from '@valhalla/core';

/** An acceptance recorded: its number and creation time (ms, the database's clock). */
type RecordedAcceptance = { seq: number; createdMs: number };

export type AcceptanceBatcher = {
  /**
   * Records the acceptance of a job without an Idempotency-Key, together with those asked for while the previous
   * statement ran: one statement and one commit for all of them.
   * @throws the statement's error (each caller decides what it means for its own job, as with a statement of its own).
   */
  record(job: AcceptedJob): Promise<RecordedAcceptance>;
};

type Waiting = { job: AcceptedJob; resolve: (recorded: RecordedAcceptance) => void; reject: (error: unknown) => void };

/** Bounds one statement's parameter (a JSON array of jobs of at most 64 kB each): later arrivals go in the next one. */
const MAX_BATCH = 64;

/**
 * The api's group commit of acceptances. Every acceptance is a PostgreSQL commit before the 2xx; requests that arrive
 * while one is being written wait for it and are then written together, so under load the api makes one round trip
 * and one commit for many requests (the worker does the same for the changes themselves). A lone request is written
 * at once: nothing waits for a batch to fill.
 *
 * A batch that fails with a database outage fails every member with that error (each request then voids its own job
 * or answers 503, as it would alone). One that fails for another reason (a row PostgreSQL refuses) is retried one job
 * per statement, so only the offending request fails.
 */
export const createAcceptanceBatcher = (pool: DatabasePool): AcceptanceBatcher => {
  let waiting: Waiting[] = [];
  let writing = false;

  const writeAlone = async (member: Waiting) => {
    try {
      const outcome = await acceptJob(pool, member.job);
      if (outcome.kind !== 'accepted') throw new Error(`job ${member.job.jobId} without a key was taken for a replay`);
      member.resolve({ seq: outcome.seq, createdMs: outcome.createdMs });
    } catch (error) {
      member.reject(error);
    }
  };

  const write = async (batch: Waiting[]) => {
    if (batch.length === 1) return writeAlone(batch[0] as Waiting);
    let recorded: Map<string, RecordedAcceptance>;
    try {
      recorded = await acceptJobs(pool, batch.map((member) => member.job));
    } catch (error) {
      if (isRetryableDatabaseError(error)) {
        for (const member of batch) member.reject(error);
        return;
      }
      for (const member of batch) await writeAlone(member);
      return;
    }
    for (const member of batch) {
      const one = recorded.get(member.job.jobId);
      if (one === undefined) member.reject(new Error(`the acceptance statement returned nothing for job ${member.job.jobId}`));
      else member.resolve(one);
    }
  };

  const drain = async () => {
    writing = true;
    try {
      while (waiting.length > 0) {
        const batch = waiting.slice(0, MAX_BATCH);
        waiting = waiting.slice(MAX_BATCH);
        await write(batch);
      }
    } finally {
      writing = false;
    }
  };

  return {
    record: (job) =>
      new Promise<RecordedAcceptance>((resolve, reject) => {
        waiting.push({ job, resolve, reject });
        if (!writing) void drain();
      }),
  };
};
