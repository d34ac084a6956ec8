import { acceptJobs, isRetryableDatabaseError, type AcceptedJob, type DatabasePool } from '@valhalla/core';

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
  const waiting: Waiting[] = [];
  let writing = false;

  /** One statement for `batch`; each member settled with its own record, or with the statement's error. */
  const write = async (batch: readonly Waiting[]) => {
    let recorded: Map<string, RecordedAcceptance>;
    try {
      recorded = await acceptJobs(pool, batch.map((member) => member.job));
    } catch (error) {
      if (batch.length === 1 || isRetryableDatabaseError(error)) {
        for (const member of batch) member.reject(error);
        return;
      }
      for (const member of batch) await write([member]);
      return;
    }
    // acceptJobs answers for every job it was given (or throws).
    for (const member of batch) member.resolve(recorded.get(member.job.jobId) as RecordedAcceptance);
  };

  const drain = async () => {
    writing = true;
    try {
      while (waiting.length > 0) await write(waiting.splice(0, MAX_BATCH));
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
