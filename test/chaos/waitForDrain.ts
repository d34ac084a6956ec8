import { Redis } from 'ioredis';
import { createGovernanceQueues, sql, type DatabasePool } from '../../packages/core/src/index.js';
import { waitFor } from '../helpers/waitFor.js';
import type { DrainOutcome } from './checks/checkRunHealth.js';
import { describeBacklog } from './describeBacklog.js';

const openAcceptances = async (pool: DatabasePool): Promise<number> =>
  (await pool.oneFirst(sql.unsafe`
    SELECT count(*)::int AS open FROM public.governance_accepted_jobs WHERE settled_at IS NULL AND voided_at IS NULL
  `)) as number;

/**
 * Waits (bounded) until every accepted job is settled or void and no queue holds a job that is waiting, prioritised,
 * delayed or active: what the product still had to do after the last fault is done.
 */
export const waitForDrain = async (options: { pool: DatabasePool; redisUrl: string; timeoutMs: number }): Promise<DrainOutcome> => {
  const connection = new Redis(options.redisUrl, { maxRetriesPerRequest: 1 });
  connection.on('error', () => {});
  const queues = createGovernanceQueues({ connection, prefix: 'bull' });
  const started = Date.now();
  const last = { openAcceptances: -1, queuedJobs: -1 };
  const measure = async () => {
    last.openAcceptances = await openAcceptances(options.pool);
    let queued = 0;
    for (const queue of Object.values(queues.byName)) {
      const counts = await queue.getJobCounts('wait', 'prioritized', 'delayed', 'active');
      queued += Object.values(counts).reduce((sum, n) => sum + n, 0);
    }
    last.queuedJobs = queued;
    return last.openAcceptances === 0 && last.queuedJobs === 0;
  };
  try {
    await waitFor(measure, { timeoutMs: options.timeoutMs, intervalMs: 250, description: 'the cluster to drain' });
    return { drained: true, tookMs: Date.now() - started, ...last };
  } catch {
    const tookMs = Date.now() - started;
    const backlog = await describeBacklog(options.pool, connection, queues).catch((error: unknown) => ({ error: String(error) }));
    return { drained: false, tookMs, ...last, backlog };
  } finally {
    await queues.close();
    connection.disconnect();
  }
};
