import { listenChannel, withTimeout, type AuditKeyring, type DatabasePool, type Logger, type NotificationSettings } from '@valhalla/core';
import {
  NOTIFICATION_CHANNEL,
  claimDueSubscriptions,
  listDueTimes,
  nextPending,
  recordDelivered,
  recordDeliveryFailed,
  releaseLease,
  systemResolver,
  type LeasedSubscription,
  type HostResolver,
} from '@valhalla/core/notifications';
import { throttledErrorLog } from '../throttledErrorLog.js';
import { attemptDelivery, type AttemptOptions } from './attemptDelivery.js';
import { deliveryDelayMs } from './deliveryBackoff.js';
import type { NotificationMetrics } from './notificationMetrics.js';
import { createDeliveryAgents } from './postToTarget.js';

export type NotificationDeliveryOptions = {
  pool: DatabasePool;
  /** For the LISTEN connection (a connection of its own, outside the pool). */
  databaseUrl: string;
  settings: NotificationSettings;
  /** Signs the audit event of a dead letter. */
  auditKeyring: AuditKeyring;
  workerId: string;
  release: string;
  log: Logger;
  metrics: NotificationMetrics;
  /** Resolves target hosts (dns.lookup by default); tests point names at the addresses they need. */
  resolve?: HostResolver | undefined;
};

export type NotificationDelivery = {
  /** Stops claiming, lets deliveries in flight finish (each is bounded by NOTIFICATION_TIMEOUT_MS), releases leases. Idempotent. */
  stop(): Promise<void>;
};

/** A lease outlives the longest attempt (the timeout) with room for the database round trips around it. */
const leaseMsFor = (settings: NotificationSettings) => settings.timeoutMs * 2 + 5_000;
/** Pending deliveries read per round trip; each is still sent, and recorded, one at a time. */
const BATCH = 32;
/** After a database error, the next pass waits this long (it doubles up to the poll interval). */
const ERROR_BACKOFF_MS = 200;

/**
 * The delivery worker: PostgreSQL is the queue (see claimDueSubscriptions). It wakes on NOTIFY (the outbox trigger
 * notifies when an audit transaction wrote deliveries), when a subscription's backoff is due, and every
 * NOTIFICATION_POLL_MS in any case (a notification is lost while the LISTEN connection is down). Each pass claims up
 * to NOTIFICATION_CONCURRENCY subscriptions and runs one chain per subscription: deliver the head, record it, go on
 * with the next, one at a time, in audit order, until the backlog is empty or an attempt fails (the failure sets the
 * backoff, and a later pass resumes). Any number of workers may run: the lease keeps one chain per subscription.
 */
export const startNotificationDelivery = (options: NotificationDeliveryOptions): NotificationDelivery => {
  const { pool, settings, log, metrics, workerId } = options;
  const leaseMs = leaseMsFor(settings);
  const agents = createDeliveryAgents();
  const attemptOptions: AttemptOptions = {
    allowedHosts: settings.allowedHosts,
    resolve: options.resolve ?? systemResolver,
    timeoutMs: settings.timeoutMs,
    agents,
    userAgent: `valhalla-go-live-notifications/${options.release}`,
    secretKeys: settings.secretKeys,
    consoleUrl: settings.consoleUrl,
  };
  const logError = throttledErrorLog(log, 'notification delivery: database unavailable; retrying');
  const chains = new Map<string, Promise<void>>();
  /** When each subscription in a backoff (or leased elsewhere) is next due, by this process's clock, as of the last look. */
  const notBefore = new Map<string, number>();
  let stopping = false;
  let passRunning = false;
  let passWanted = false;
  let wakeTimer: NodeJS.Timeout | undefined;
  let errorBackoffMs = ERROR_BACKOFF_MS;

  const wakeIn = (ms: number) => {
    if (stopping) return;
    clearTimeout(wakeTimer);
    wakeTimer = setTimeout(requestPass, Math.max(0, Math.min(ms, settings.pollMs)));
    wakeTimer.unref();
  };

  /**
   * Delivers a leased subscription's backlog, one delivery at a time in audit order, reading the next batch as each is
   * used up, while attempts succeed and the lease holds.
   */
  const runChain = async (claimed: LeasedSubscription): Promise<void> => {
    const subscription = claimed.subscriptionId;
    let current: LeasedSubscription | null = claimed;
    try {
      while (current !== null) {
        let failures = current.consecutiveFailures;
        let last = 0;
        for (const entry of current.entries) {
          if (stopping) {
            await releaseLease(pool, subscription, workerId);
            return;
          }
          const started = performance.now();
          const outcome = await attemptDelivery(current, entry, attemptOptions);
          const seconds = (performance.now() - started) / 1000;
          if (outcome.ok) {
            metrics.attempted(current.kind, 'delivered', seconds);
            const recorded = await recordDelivered(pool, { subscriptionId: subscription, auditId: entry.id, status: outcome.status, workerId, leaseMs });
            if (recorded === 'lost') {
              log.warn({ subscription, auditId: entry.id }, 'notification delivered, but another worker took the subscription over; it continues from there');
              return;
            }
            // Paused (or dead-lettered by an operator's change) meanwhile: the rest waits.
            if (recorded === 'stop') return;
            failures = 0;
            last = entry.id;
            continue;
          }
          metrics.attempted(current.kind, outcome.code, seconds);
          failures += 1;
          const delayMs = deliveryDelayMs(failures, settings, { retryAfterMs: outcome.retryAfterMs });
          const recorded = await recordDeliveryFailed(pool, options.auditKeyring, {
            subscriptionId: subscription,
            auditId: entry.id,
            workerId,
            code: outcome.code,
            message: outcome.message,
            status: outcome.status,
            delayMs,
            deadLetterAfterSeconds: settings.deadLetterAfterSeconds,
            gone: outcome.gone,
          });
          // Dead-lettered, it is never due: a resume notifies with an empty payload, which always looks.
          notBefore.set(subscription, recorded.deadLettered ? Number.POSITIVE_INFINITY : Date.now() + delayMs);
          const context = { subscription, auditId: entry.id, code: outcome.code, status: outcome.status, failures, delayMs };
          if (recorded.deadLettered) {
            metrics.deadLettered(current.kind);
            log.error(context, 'notification subscription dead-lettered: deliveries wait until an operator resumes it');
          } else {
            log.warn({ ...context, message: outcome.message }, 'notification delivery failed; retrying after the backoff');
          }
          return;
        }
        const next = await nextPending(pool, { subscriptionId: subscription, after: last, workerId, batch: BATCH });
        if (next === 'lost') {
          log.warn({ subscription }, 'another worker took the notification subscription over; it continues from there');
          return;
        }
        current = next;
      }
    } catch (error) {
      // The database failed around an attempt: the lease stays this worker's (it may claim it again at once) and the
      // delivery is sent again, with the same webhook-id.
      logError(error);
      errorBackoffMs = Math.min(settings.pollMs, errorBackoffMs * 2);
      wakeIn(errorBackoffMs);
    }
  };

  const startChain = (claimed: LeasedSubscription) => {
    const chain = runChain(claimed).finally(() => {
      chains.delete(claimed.subscriptionId);
      // A lease released at the end of a chain may hide a delivery committed meanwhile from a pass that ran then.
      requestPass();
    });
    chains.set(claimed.subscriptionId, chain);
  };

  const pass = async () => {
    const free = settings.concurrency - chains.size;
    if (free > 0) {
      const claimed = await claimDueSubscriptions(pool, { workerId, limit: free, leaseMs, exclude: [...chains.keys()], batch: BATCH });
      for (const subscription of claimed) startChain(subscription);
    }
    const dueTimes = await listDueTimes(pool);
    const now = Date.now();
    notBefore.clear();
    for (const { id, due_in_ms: dueInMs } of dueTimes) {
      if (dueInMs === null) notBefore.set(id, Number.POSITIVE_INFINITY);
      else if (dueInMs > 0) notBefore.set(id, now + dueInMs);
    }
    const soonest = Math.min(...dueTimes.flatMap(({ id, due_in_ms: dueInMs }) => (dueInMs === null || chains.has(id) ? [] : [dueInMs])));
    errorBackoffMs = ERROR_BACKOFF_MS;
    wakeIn(Number.isFinite(soonest) ? Math.max(10, soonest) : settings.pollMs);
  };

  /**
   * A notification names the subscriptions that got deliveries ('' for "look anyway"). None of them needs a look when
   * this worker is delivering it (its chain reads what is new) or it is waiting out a backoff: during a burst of
   * changes to a receiver that is down, that spares the database a claim per commit. A chain that ends looks anyway.
   */
  const onNotify = (payload: string) => {
    if (payload === '') return requestPass();
    const now = Date.now();
    const needsLook = payload.split(',').some((id) => !chains.has(id) && (notBefore.get(id) ?? 0) <= now);
    if (needsLook) requestPass();
  };

  function requestPass(): void {
    if (stopping) return;
    passWanted = true;
    if (passRunning) return;
    passRunning = true;
    void (async () => {
      while (passWanted && !stopping) {
        passWanted = false;
        try {
          await pass();
        } catch (error) {
          logError(error);
          errorBackoffMs = Math.min(settings.pollMs, errorBackoffMs * 2);
          wakeIn(errorBackoffMs);
        }
      }
      passRunning = false;
    })();
  }

  const listener = listenChannel({
    databaseUrl: options.databaseUrl,
    channel: NOTIFICATION_CHANNEL,
    applicationName: 'valhalla-worker-notifications',
    onNotify,
    // Notifications sent while the connection was down are lost: look for due deliveries now.
    onConnected: requestPass,
    logger: log,
  });
  requestPass();

  let stopped: Promise<void> | undefined;
  return {
    stop: () => {
      stopped ??= (async () => {
        stopping = true;
        clearTimeout(wakeTimer);
        await listener.close();
        // Chains stop after their current attempt (bounded by the timeout) and release their leases.
        // allSettled never rejects: a rejection here is the deadline.
        await withTimeout(Promise.allSettled([...chains.values()]), settings.timeoutMs + 5_000, 'the deliveries in flight').catch(() =>
          log.warn('notification deliveries in flight did not finish; their leases expire'),
        );
        agents.destroy();
      })();
      return stopped;
    },
  };
};
