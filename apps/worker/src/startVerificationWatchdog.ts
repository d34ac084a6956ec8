import { JOB_CATALOG, JOB_NAMES, queueForJob } from '@valhalla/contract';
import type { GovernanceQueues, Logger } from '@valhalla/core';

/** The one scheduler id every worker upserts: BullMQ keeps one scheduler per id, so N workers schedule once. */
export const WATCHDOG_SCHEDULER_ID = 'valhalla:verification-watchdog';
export const WATCHDOG_ACTOR = 'system:watchdog';

/**
 * Schedules the verification every `intervalSeconds` with a BullMQ job scheduler (`upsertJobScheduler`): idempotent
 * across workers and restarts (same id, same slot ids `repeat:<id>:<millis>`); the last upsert's template wins, so the
 * newest worker's release is what the scheduled runs verify. 0 removes the scheduler (off for every worker).
 */
export const startVerificationWatchdog = async (
  queues: GovernanceQueues,
  options: { intervalSeconds: number; release: string; log: Logger },
): Promise<void> => {
  // Incremental audit check: the chain from the last checkpoint (a full check every 15 minutes would grow with the log).
  const data = { actor: WATCHDOG_ACTOR, release: options.release, auditCheck: 'incremental' as const };
  const queue = queues.byName[queueForJob(JOB_NAMES.migrationVerify, data)];
  if (options.intervalSeconds === 0) {
    if (await queue.removeJobScheduler(WATCHDOG_SCHEDULER_ID)) options.log.info('verification watchdog removed (VERIFY_INTERVAL_SECONDS=0)');
    return;
  }
  await queue.upsertJobScheduler(
    WATCHDOG_SCHEDULER_ID,
    { every: options.intervalSeconds * 1000 },
    { name: JOB_NAMES.migrationVerify, data, opts: JOB_CATALOG[JOB_NAMES.migrationVerify].options(data) },
  );
  options.log.info({ everySeconds: options.intervalSeconds }, 'verification watchdog scheduled');
};
