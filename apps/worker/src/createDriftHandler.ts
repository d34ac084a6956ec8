import { appendAuditEvent, runInTransaction, type AuditKeyring, type DatabasePool, type GovernanceQueues, type Logger } from '@valhalla/core';
import { GOVERNANCE_ACTIONS, JOB_NAMES } from '@valhalla/contract';
import type { Drift } from './processors/migrationVerifyProcessor.js';
import { WATCHDOG_ACTOR } from './startVerificationWatchdog.js';

export const DRIFT_ACTIONS = { alert: 'alert', engage: 'engage' } as const;
export type DriftAction = (typeof DRIFT_ACTIONS)[keyof typeof DRIFT_ACTIONS];

/**
 * What a drift does: an audit event entry (always), the drift counter, and with DRIFT_ACTION=engage a kill-switch
 * engage enqueued through the job catalog (so it takes the safety lane). The engage's job id is derived from the
 * run, so a retried drift enqueues it once.
 */
export const createDriftHandler =
  (deps: {
    pool: DatabasePool;
    keyring: AuditKeyring;
    action: DriftAction;
    /** The worker's producer queues (created before any job runs). */
    queues: GovernanceQueues;
    countDrift: () => void;
  }) =>
  async (drift: Drift, log: Logger): Promise<void> => {
    const names = drift.failed.map((check) => check.name);
    await runInTransaction(deps.pool, (tx) =>
      appendAuditEvent(tx, deps.keyring, {
        key: null,
        action: 'verification.drift',
        actor: WATCHDOG_ACTOR,
        reason: `scheduled verification run ${drift.runId} failed after run ${drift.previousRunId} passed`,
        requestId: null,
        details: { runId: drift.runId, previousRunId: drift.previousRunId, failed: drift.failed },
      }),
    );
    deps.countDrift();
    log.error({ runId: drift.runId, failed: names, driftAction: deps.action }, 'drift: a scheduled verification failed after a passed one');
    if (deps.action !== DRIFT_ACTIONS.engage) return;
    await deps.queues.enqueue(
      JOB_NAMES.goLiveChange,
      { action: GOVERNANCE_ACTIONS.killSwitchEngage, actor: WATCHDOG_ACTOR, reason: `drift found by verification run ${drift.runId}: ${names.join('; ')}`.slice(0, 500) },
      { jobId: `drift-engage-${drift.runId}` },
    );
  };
