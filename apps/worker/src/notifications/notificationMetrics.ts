import { SUBSCRIPTION_KIND_VALUES } from '@valhalla/contract';
import { DELIVERY_FAILURES } from '@valhalla/core/notifications';
import { Counter, Histogram, type Registry } from 'prom-client';

/** The delivery worker's counters (the backlog and dead-letter gauges are state gauges, exported by api and worker). */
export type NotificationMetrics = {
  /** An attempt ended: `delivered`, or failed with its DELIVERY_FAILURES code. */
  attempted(kind: string, outcome: string, seconds: number): void;
  deadLettered(kind: string): void;
};

export const createNotificationMetrics = (registry: Registry): NotificationMetrics => {
  const attempts = new Counter({
    name: 'valhalla_notification_attempts_total',
    help: 'Notification delivery attempts, by subscription kind and outcome (delivered, or the failure code: TIMEOUT, HTTP_STATUS, ...).',
    labelNames: ['kind', 'outcome'] as const,
    registers: [registry],
  });
  const duration = new Histogram({
    name: 'valhalla_notification_attempt_duration_seconds',
    help: 'Duration of notification delivery attempts (DNS, connect, request, response status), by kind.',
    labelNames: ['kind'] as const,
    buckets: [0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30],
    registers: [registry],
  });
  const deadLetters = new Counter({
    name: 'valhalla_notification_dead_letters_total',
    help: 'Subscriptions this worker dead-lettered (failing past NOTIFICATION_DEAD_LETTER_AFTER_SECONDS, or 410 Gone).',
    labelNames: ['kind'] as const,
    registers: [registry],
  });
  // Known series start at 0, so rate() works before the first delivery.
  for (const kind of SUBSCRIPTION_KIND_VALUES) {
    attempts.inc({ kind, outcome: 'delivered' }, 0);
    for (const code of Object.values(DELIVERY_FAILURES)) attempts.inc({ kind, outcome: code }, 0);
    deadLetters.inc({ kind }, 0);
  }
  return {
    attempted: (kind, outcome, seconds) => {
      attempts.inc({ kind, outcome });
      duration.observe({ kind }, seconds);
    },
    deadLettered: (kind) => deadLetters.inc({ kind }),
  };
};
