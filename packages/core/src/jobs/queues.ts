import { randomUUID } from 'node:crypto';
import { Queue, type Job } from 'bullmq';
import { readJobSummary, type JobSummary } from './readJobSummary.js';
import type { RedisClient } from './redisConnection.js';
import { JOB_CATALOG, QUEUES, queueForJob, type JobName, type JobPayloads, type QueueName } from '@valhalla/contract';

export type GovernanceQueues = {
  readonly byName: Readonly<Record<QueueName, Queue>>;
  /** Adds a job from the catalog: its queue, retry policy and priority. `jobId` makes the add idempotent. */
  enqueue<N extends JobName>(name: N, payload: JobPayloads[N], options?: { jobId?: string }): Promise<Job>;
  /** The job with this id on whichever queue holds it, or undefined. Loads the whole job, data included. */
  findJob(id: string): Promise<Job | undefined>;
  /** A bounded summary (state, attempts, result, failure record; never the data) of the job, or undefined. */
  readJob(id: string): Promise<JobSummary | undefined>;
  /**
   * Whether Redis holds each job, in any state (its hash lives from the add until BullMQ removes it): one pipeline of
   * EXISTS, in the order given. (On a Redis Cluster a pipeline must stay in one hash slot: it does, because a Cluster
   * is refused without a hash-tagged prefix, which puts every queue key in one slot.)
   */
  hasJobs(jobs: readonly { queue: QueueName; jobId: string }[]): Promise<boolean[]>;
  close(): Promise<void>;
};

/**
 * The producer side of the queues, on one shared connection. The connection is owned by the caller (closed by it),
 * so that a fail-fast producer connection can be reused by health checks.
 */
export const createGovernanceQueues = (options: { connection: RedisClient; prefix: string }): GovernanceQueues => {
  const make = (name: QueueName) => new Queue(name, { connection: options.connection, prefix: options.prefix });
  const byName = {
    [QUEUES.governance]: make(QUEUES.governance),
    [QUEUES.governanceSafety]: make(QUEUES.governanceSafety),
    [QUEUES.verification]: make(QUEUES.verification),
  };
  let closing: Promise<void> | undefined;
  return {
    byName,
    enqueue: async (name, payload, enqueueOptions = {}) => {
      const entry = JOB_CATALOG[name];
      const jobOptions = (entry.options as (p: JobPayloads[typeof name]) => ReturnType<typeof entry.options>)(payload);
      return byName[queueForJob(name, payload)].add(name, payload, {
        ...jobOptions,
        // Never BullMQ's counter ids: they restart at 1 when Redis loses its data, and the worker's executed-job
        // record (keyed by job id) would then replay an old job's result for a new job.
        jobId: enqueueOptions.jobId ?? randomUUID(),
      });
    },
    findJob: async (id) => {
      for (const queue of Object.values(byName)) {
        const job = await queue.getJob(id);
        if (job !== undefined && job !== null) return job;
      }
      return undefined;
    },
    readJob: async (id) => {
      for (const queue of Object.values(byName)) {
        const summary = await readJobSummary(options.connection, queue, id);
        if (summary !== undefined) return summary;
      }
      return undefined;
    },
    hasJobs: async (jobs) => {
      if (jobs.length === 0) return [];
      const pipeline = options.connection.pipeline();
      for (const job of jobs) pipeline.exists(byName[job.queue].toKey(job.jobId));
      const replies = (await pipeline.exec()) ?? [];
      return jobs.map((_job, index) => {
        const [error, exists] = replies[index] ?? [new Error('Redis gave no reply to EXISTS'), 0];
        if (error !== null) throw error;
        return exists === 1;
      });
    },
    close: () => {
      closing ??= Promise.allSettled(Object.values(byName).map((queue) => queue.close())).then(() => undefined);
      return closing;
    },
  };
};
