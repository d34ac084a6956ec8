import { findOpenAcceptances, markReenqueued, takeReconcilerTurn, type Acceptance, type DatabasePool, type GovernanceQueues, type Logger } from '@valhalla/core';
import { JOB_CATALOG, type JobName, type QueueName } from '@valhalla/contract';

export type ReconcilerOptions = {
  pool: DatabasePool;
  /** Producer queues on a fail-fast connection: a tick while Redis is down fails at once and the next one retries. */
  queues: GovernanceQueues;
  workerId: string;
  log: Logger;
  /** How often one worker of the cluster looks (default 2 s). */
  intervalMs?: number | undefined;
  /**
   * How old an acceptance (or the reconciler's own last enqueue of it) must be before it is checked (default 5 s): the
   * api enqueues right after it records, and the reconciler must not race it.
   */
  graceMs?: number | undefined;
  /** Told how many jobs of a queue it enqueued again. */
  onReenqueued?: ((queue: QueueName, count: number) => void) | undefined;
};

const DEFAULT_INTERVAL_MS = 2_000;
const DEFAULT_GRACE_MS = 5_000;
/** Rows per page, and pages per tick: a backlog lost with Redis is enqueued again in a few ticks, not one per page. */
const PAGE_SIZE = 500;
const PAGES_PER_TICK = 20;

const isJobName = (name: string): name is JobName => Object.hasOwn(JOB_CATALOG, name);

const isQueueName = (queues: GovernanceQueues, name: string): name is QueueName => Object.hasOwn(queues.byName, name);

/**
 * Which of `candidates` Redis has no job for. Every state of a job (waiting, prioritised, delayed, active, completed,
 * failed) keeps its hash, so a job that is merely slow, behind a backlog, is never enqueued twice.
 */
const missingFromRedis = async (queues: GovernanceQueues, candidates: readonly Acceptance[]): Promise<Acceptance[]> => {
  const known = candidates.filter((candidate) => isQueueName(queues, candidate.queue));
  const present = await queues.hasJobs(known.map((candidate) => ({ queue: candidate.queue as QueueName, jobId: candidate.jobId })));
  return known.filter((_candidate, index) => present[index] !== true);
};

/** One reconciliation: every page of open acceptances past the grace, the missing ones enqueued again. */
const reconcile = async (options: ReconcilerOptions, graceMs: number): Promise<number> => {
  let afterSeq = 0;
  let reenqueued = 0;
  for (let page = 0; page < PAGES_PER_TICK; page += 1) {
    const candidates = await findOpenAcceptances(options.pool, { graceMs, limit: PAGE_SIZE, afterSeq });
    if (candidates.length === 0) break;
    afterSeq = candidates.at(-1)?.seq ?? afterSeq;
    const missing = await missingFromRedis(options.queues, candidates);
    const enqueued: Acceptance[] = [];
    for (const job of missing) {
      if (!isJobName(job.jobName)) {
        options.log.error({ jobId: job.jobId, jobName: job.jobName }, 'accepted job has an unknown name; not enqueued');
        continue;
      }
      const parsed = JOB_CATALOG[job.jobName].payload.safeParse(job.payload);
      if (!parsed.success) {
        options.log.error({ jobId: job.jobId, jobName: job.jobName }, 'accepted job has a payload the contract refuses; not enqueued');
        continue;
      }
      // Same id: if it was enqueued meanwhile, BullMQ keeps the one job; if it executed meanwhile, the worker replays it.
      await options.queues.enqueue(job.jobName, parsed.data, { jobId: job.jobId });
      enqueued.push(job);
    }
    await markReenqueued(options.pool, enqueued.map((job) => job.jobId));
    for (const [queue, count] of countByQueue(enqueued)) options.onReenqueued?.(queue, count);
    reenqueued += enqueued.length;
    if (candidates.length < PAGE_SIZE) break;
  }
  return reenqueued;
};

const countByQueue = (jobs: readonly Acceptance[]): Map<QueueName, number> => {
  const counts = new Map<QueueName, number>();
  for (const job of jobs) counts.set(job.queue as QueueName, (counts.get(job.queue as QueueName) ?? 0) + 1);
  return counts;
};

/**
 * The reconciler: PostgreSQL is the record of every accepted job and Redis only carries the work, so a job Redis lost
 * (restarted without its data, flushed, failed over to a replica that lagged, or down when the api accepted it) is
 * enqueued again under the same identity. Every worker runs the loop; one per interval across the cluster takes the
 * turn (takeReconcilerTurn). The executed-job records keep each change applied once, and EXPIRED still applies (a
 * change's age counts from its acceptance).
 * @returns stop(): ends the loop and waits for a tick in progress.
 */
export const startReconciler = (options: ReconcilerOptions): { stop(): Promise<void> } => {
  const intervalMs = options.intervalMs ?? DEFAULT_INTERVAL_MS;
  const graceMs = options.graceMs ?? DEFAULT_GRACE_MS;
  let stopped = false;
  let timer: NodeJS.Timeout | undefined;
  let running: Promise<void> = Promise.resolve();
  let failing = false;
  const tick = async () => {
    try {
      if (!(await takeReconcilerTurn(options.pool, options.workerId, intervalMs))) return;
      const reenqueued = await reconcile(options, graceMs);
      if (reenqueued > 0) options.log.warn({ reenqueued }, 'accepted jobs missing from Redis were enqueued again');
      if (failing) options.log.info('reconciler recovered');
      failing = false;
    } catch (err) {
      // Redis or PostgreSQL away: the next tick tries again. Logged once per outage.
      if (!failing) options.log.warn({ err }, 'reconciliation failed; retrying every interval');
      failing = true;
    }
  };
  const schedule = () => {
    if (stopped) return;
    timer = setTimeout(() => {
      running = tick().finally(schedule);
    }, intervalMs);
    timer.unref();
  };
  schedule();
  return {
    stop: async () => {
      stopped = true;
      clearTimeout(timer);
      await running;
    },
  };
};
