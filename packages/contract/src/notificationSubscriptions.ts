import { z } from 'zod';

export const SUBSCRIPTION_KINDS = { webhook: 'webhook', slack: 'slack' } as const;
export type SubscriptionKind = (typeof SUBSCRIPTION_KINDS)[keyof typeof SUBSCRIPTION_KINDS];
export const SUBSCRIPTION_KIND_VALUES = Object.values(SUBSCRIPTION_KINDS) as [SubscriptionKind, ...SubscriptionKind[]];

export const SUBSCRIPTION_STATES = { active: 'active', paused: 'paused', deadLettered: 'dead_lettered' } as const;
export const CIRCUIT_STATES = { closed: 'closed', open: 'open', halfOpen: 'half_open' } as const;

/** What every subscription answer shows about delivery (api, CLI, console). */
export const subscriptionStatus = z
  .object({
    state: z.enum([SUBSCRIPTION_STATES.active, SUBSCRIPTION_STATES.paused, SUBSCRIPTION_STATES.deadLettered]),
    circuit: z.enum([CIRCUIT_STATES.closed, CIRCUIT_STATES.open, CIRCUIT_STATES.halfOpen]),
    backlog: z.number().int().describe('Pending deliveries'),
    oldest_pending_at: z.string().nullable().describe('When the oldest pending delivery was written (its audit entry committed)'),
    delivered_through: z.number().int().describe('Audit id of the newest entry delivered (or skipped)'),
    last_success_at: z.string().nullable(),
    last_error: z
      .object({ code: z.string(), message: z.string(), http_status: z.number().int().nullable(), at: z.string() })
      .nullable()
      .describe('The latest failed attempt (kept after a later success, for the record)'),
    consecutive_failures: z.number().int(),
    failing_since: z.string().nullable(),
    next_attempt_at: z.string().nullable().describe('When the head delivery is attempted next; null without a backlog'),
    dead_lettered_at: z.string().nullable(),
    dead_letter_reason: z.string().nullable(),
  })
  .meta({ id: 'NotificationStatus' });
export type SubscriptionStatus = z.infer<typeof subscriptionStatus>;

/**
 * A subscription as the api shows it: never its secret or full target (the target is shown as `target`, redacted).
 * The filter's shape only: which action names and kinds it may hold is the api's rule (it validates what it stores).
 */
export const notificationSubscriptionBody = z.object({
  id: z.string(),
  kind: z.enum(SUBSCRIPTION_KIND_VALUES),
  target: z.string().describe("The target URL, with a Slack URL's path and any query string hidden"),
  description: z.string().nullable(),
  filter: z.object({ kinds: z.array(z.string()).optional(), actions: z.array(z.string()).optional(), outcomes: z.array(z.string()).optional() }),
  enabled: z.boolean(),
  secret_key_id: z.string().describe('The NOTIFICATION_SECRET_KEYS key id the stored target and secret are encrypted with'),
  created_by: z.string(),
  created_at: z.string(),
  updated_by: z.string(),
  updated_at: z.string(),
  status: subscriptionStatus,
});
export type NotificationSubscriptionBody = z.infer<typeof notificationSubscriptionBody>;
