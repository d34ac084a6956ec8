import { TimeoutError, withTimeout, type GovernanceQueues, type Logger } from '@valhalla/core';
import { JOB_NAMES, startupVerificationJobId } from '@valhalla/contract';
import { startVerificationWatchdog } from '../startVerificationWatchdog.js';

/** Who enqueues the verification a worker asks for when it starts. */
export const STARTUP_VERIFICATION_ACTOR = 'system:worker';
const STARTUP_ENQUEUE_TIMEOUT_MS = 5_000;

/**
 * Enqueues the verification of this release and migration head, and (when `verifyIntervalSeconds` is set) schedules
 * the watchdog. Never throws and waits at most a few seconds each: Redis being slow is no reason to refuse to start,
 * and what is still pending completes when Redis answers.
 */
export const requestStartupVerification = async (options: {
  queues: GovernanceQueues;
  release: string;
  migrationHead: string;
  log: Logger;
  /** As WorkerAppOptions.verifyIntervalSeconds: undefined leaves the watchdog's scheduler as it is. */
  verifyIntervalSeconds: number | undefined;
}): Promise<void> => {
  const { queues, release, log } = options;
  // The job id makes this idempotent: any number of workers of one release enqueue one verification.
  await withTimeout(
    queues.enqueue(JOB_NAMES.migrationVerify, { actor: STARTUP_VERIFICATION_ACTOR, release }, { jobId: startupVerificationJobId(release, options.migrationHead) }),
    STARTUP_ENQUEUE_TIMEOUT_MS,
    'enqueueing the startup verification',
  ).catch((err: unknown) => {
    if (err instanceof TimeoutError) log.warn('enqueueing the startup verification is taking long; it completes when Redis answers');
    else log.warn({ err }, 'could not enqueue the startup verification');
  });
  if (options.verifyIntervalSeconds === undefined) return;
  await withTimeout(
    startVerificationWatchdog(queues, { intervalSeconds: options.verifyIntervalSeconds, release, log }),
    STARTUP_ENQUEUE_TIMEOUT_MS,
    'scheduling the verification watchdog',
  ).catch((err: unknown) => {
    // Another worker's upsert (or this one's next start) schedules it: not a reason to refuse to start.
    if (err instanceof TimeoutError) log.warn('scheduling the verification watchdog is taking long; it completes when Redis answers');
    else log.warn({ err }, 'could not schedule the verification watchdog');
  });
};
