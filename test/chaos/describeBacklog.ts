import type { Redis } from 'ioredis';
import { sql, type DatabasePool, type GovernanceQueues } from '../../packages/core/src/index.js';

/** What is left when a run does not drain: where the jobs are, and what a few of the unsettled ones look like. */
export type Backlog = {
  /** Jobs per queue and BullMQ state (finished states left out). */
  queued: Record<string, Record<string, number>>;
  /** Up to 10 unsettled acceptances: their job's state in Redis, attempts, when it was last taken, its lock. */
  unsettled: { jobId: string; acceptedAt: string; reenqueued: number; state: string; attemptsMade: number | null; processedOn: string | null; lock: string | null }[];
};

const SAMPLES = 10;

/** Reads the backlog for the report of a run that did not drain (forensics; never a verdict). */
export const describeBacklog = async (pool: DatabasePool, connection: Redis, queues: GovernanceQueues): Promise<Backlog> => {
  const queued: Backlog['queued'] = {};
  for (const [name, queue] of Object.entries(queues.byName)) {
    queued[name] = await queue.getJobCounts('wait', 'prioritized', 'delayed', 'active', 'waiting-children');
  }
  const rows = (await pool.any(sql.unsafe`
    SELECT job_id, accepted_at::text AS accepted_at, enqueue_count FROM public.governance_accepted_jobs
    WHERE settled_at IS NULL AND voided_at IS NULL ORDER BY seq LIMIT ${SAMPLES}
  `)) as readonly { job_id: string; accepted_at: string; enqueue_count: number }[];
  const unsettled: Backlog['unsettled'] = [];
  for (const row of rows) {
    const job = await queues.findJob(row.job_id);
    const lock = job === undefined ? null : await connection.get(`${job.queueQualifiedName}:${row.job_id}:lock`);
    unsettled.push({
      jobId: row.job_id,
      acceptedAt: row.accepted_at,
      reenqueued: row.enqueue_count,
      state: job === undefined ? 'not in Redis' : await job.getState(),
      attemptsMade: job?.attemptsMade ?? null,
      processedOn: job?.processedOn === undefined ? null : new Date(job.processedOn).toISOString(),
      lock,
    });
  }
  return { queued, unsettled };
};
