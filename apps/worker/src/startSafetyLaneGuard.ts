import { QUEUE_EVENTS, recordQueueEvent, type AuditKeyring, type DatabasePool, type GovernanceQueues, type Logger } from '@valhalla/core';
import { QUEUES } from '@valhalla/contract';

/** Who the audit entry of a resume made by the guard names. */
const SAFETY_LANE_GUARD_ACTOR = 'system:worker';
/** How often each worker checks: an engage held by a pause waits at most this long. One Redis HEXISTS per check. */
const SAFETY_LANE_CHECK_MS = 1_000;

export type SafetyLaneGuard = { stop(): void };

/**
 * Keeps `governance-safety` running: engages and disables must always be taken, and the api refuses to pause that
 * queue, but any BullMQ client (another dashboard, a script) can. A worker that finds it paused resumes it at once,
 * says so in the log and records an audited `queue.resumed` event. A check that fails (Redis down) is skipped: the
 * next one tries again.
 */
export const startSafetyLaneGuard = (options: {
  queues: GovernanceQueues;
  pool: DatabasePool;
  keyring: AuditKeyring;
  log: Logger;
  intervalMs?: number;
}): SafetyLaneGuard => {
  const queue = options.queues.byName[QUEUES.governanceSafety];
  let checking = false;
  const check = async () => {
    if (!(await queue.isPaused())) return;
    await queue.resume();
    options.log.error({ queue: QUEUES.governanceSafety }, 'the safety lane was paused; resumed it (engages and disables must always run)');
    await recordQueueEvent(options.pool, options.keyring, {
      action: QUEUE_EVENTS.resumed,
      queue: QUEUES.governanceSafety,
      actor: SAFETY_LANE_GUARD_ACTOR,
      reason: 'the safety lane is never paused: a worker found it paused and resumed it',
      requestId: null,
    });
  };
  const timer = setInterval(() => {
    if (checking) return;
    checking = true;
    check()
      .catch((err: unknown) => options.log.warn({ err }, 'safety lane check failed'))
      .finally(() => {
        checking = false;
      });
  }, options.intervalMs ?? SAFETY_LANE_CHECK_MS);
  timer.unref();
  return { stop: () => clearInterval(timer) };
};
