/**
 * Glossary of notifications (the audit log told to people and systems):
 *
 * - subscription: a target told about the audit entries its filter matches. Its kind is `webhook` (a JSON POST
 *   signed per Standard Webhooks) or `slack` (a Slack incoming-webhook URL, Block Kit message). Enabled or paused;
 *   managed by the operators of ADMIN_ACTORS, every change an audit event.
 * - filter: which entries match: `kinds` (change, event), `actions` (audit actions) and `outcomes` (of change
 *   entries; event entries have none and match on kind and action alone). An absent field matches anything.
 * - delivery: one audit entry for one subscription, written by the outbox trigger in the audit entry's own
 *   transaction (so nothing committed is ever missed). Deliveries of a subscription go out one at a time in audit id
 *   order, at least once; the Standard Webhooks `webhook-id` is the same on every attempt.
 * - backlog: the pending deliveries of a subscription (audit ids above its `delivered_through`).
 * - circuit: open once a subscription failed NOTIFICATION_CIRCUIT_THRESHOLD times in a row: it then waits the full
 *   backoff cap between attempts, each a probe (half-open) that closes it on success.
 * - dead-lettered: a subscription whose head delivery kept failing for NOTIFICATION_DEAD_LETTER_AFTER_SECONDS (or
 *   whose receiver answered 410 Gone). Its deliveries are kept but not attempted until an operator resumes it.
 */
import { z } from 'zod';
import { CHANGE_REQUEST_EVENTS } from '../state/changeRequests/model.js';
import {
  GOVERNANCE_ACTION_VALUES,
  AUDIT_KINDS,
  CHANGE_OUTCOMES,
  notificationSubscriptionBody,
  type AuditKind,
  type ChangeOutcome,
} from '@valhalla/contract';
import { QUEUE_EVENTS } from '../state/recordQueueEvent.js';
import { VERIFICATION_FAILED_EVENT } from '../state/recordVerificationRun.js';
import { JOB_RETRY_ACTION } from '../state/recordJobRetry.js';
import { AUDIT_KEY_ROTATED_ACTION } from '../state/audit/appendAuditEntries.js';
import { AUDIT_CHAIN_KEYED_ACTION, OUTSIDE_WRITE_ACTION } from '../state/audit/verifyAuditChain.js';


/** The audit events of subscriptions themselves (a subscription may subscribe to them: "tell Slack a webhook died"). */
export const NOTIFICATION_EVENTS = {
  created: 'notification.subscription_created',
  updated: 'notification.subscription_updated',
  deleted: 'notification.subscription_deleted',
  resumed: 'notification.subscription_resumed',
  deadLettered: 'notification.subscription_dead_lettered',
  secretRotated: 'notification.secret_rotated',
} as const;

/** The audit event of a migration-verify run that did not pass. */
export const VERIFICATION_FAILED_ACTION = VERIFICATION_FAILED_EVENT;
/** The audit event of a drift (a scheduled verification failed after a passed one). */
const VERIFICATION_DRIFT_ACTION = 'verification.drift';

/**
 * Every audit action a filter may name: the change actions and every event the product records. A filter naming
 * anything else is refused (a typo would otherwise match nothing, silently).
 */
const NOTIFIABLE_EVENT_ACTIONS = [
  ...Object.values(CHANGE_REQUEST_EVENTS),
  VERIFICATION_FAILED_ACTION,
  VERIFICATION_DRIFT_ACTION,
  ...Object.values(QUEUE_EVENTS),
  JOB_RETRY_ACTION,
  OUTSIDE_WRITE_ACTION,
  AUDIT_KEY_ROTATED_ACTION,
  AUDIT_CHAIN_KEYED_ACTION,
  'migration.stamp',
  'migration.repair',
  ...Object.values(NOTIFICATION_EVENTS),
] as const;
export const NOTIFIABLE_ACTIONS = [...GOVERNANCE_ACTION_VALUES, ...NOTIFIABLE_EVENT_ACTIONS] as [string, ...string[]];
const CHANGE_ACTION_SET: ReadonlySet<string> = new Set(GOVERNANCE_ACTION_VALUES);

const OUTCOME_VALUES = Object.values(CHANGE_OUTCOMES) as [ChangeOutcome, ...ChangeOutcome[]];
const KIND_VALUES = Object.values(AUDIT_KINDS) as [AuditKind, ...AuditKind[]];

const uniqueList = <T extends string>(item: z.ZodType<T>, max: number, field: string) =>
  z
    .array(item)
    .min(1, `${field}: give at least one, or omit ${field} to match any`)
    .max(max, `${field}: at most ${max}`)
    .transform((values) => [...new Set(values)]);

/**
 * What a subscription is told about. Every field is optional (absent: any); `{}` matches every audit entry. A filter
 * that can match nothing (outcomes with only event kinds, or actions none of the given kinds has) is refused.
 */
export const subscriptionFilter = z
  .strictObject({
    kinds: uniqueList(z.enum(KIND_VALUES, { error: `kinds: each must be one of ${KIND_VALUES.join(', ')}` }), KIND_VALUES.length, 'kinds')
      .optional()
      .describe('change (state changes: applied, unchanged, rejected) and/or event (everything else the audit log records)'),
    actions: uniqueList(
      z.enum(NOTIFIABLE_ACTIONS, { error: 'actions: each must be an audit action such as kill_switch.engage (docs/notifications.md lists them)' }),
      NOTIFIABLE_ACTIONS.length,
      'actions',
    )
      .optional()
      .describe('Audit actions, e.g. kill_switch.engage, change_request.requested, verification.failed'),
    outcomes: uniqueList(z.enum(OUTCOME_VALUES, { error: `outcomes: each must be one of ${OUTCOME_VALUES.join(', ')}` }), OUTCOME_VALUES.length, 'outcomes')
      .optional()
      .describe('Outcomes of change entries (event entries have none and are matched by kind and action alone)'),
  })
  .superRefine((filter, ctx) => {
    const kinds = filter.kinds;
    if (kinds !== undefined && filter.outcomes !== undefined && !kinds.includes(AUDIT_KINDS.change)) {
      ctx.addIssue({ code: 'custom', path: ['outcomes'], message: 'outcomes apply to change entries only; add change to kinds or omit outcomes' });
    }
    if (kinds !== undefined && filter.actions !== undefined) {
      const matchable = filter.actions.filter((action) => kinds.includes(CHANGE_ACTION_SET.has(action) ? AUDIT_KINDS.change : AUDIT_KINDS.event));
      if (matchable.length === 0) ctx.addIssue({ code: 'custom', path: ['actions'], message: 'none of these actions is of the given kinds: the filter would match nothing' });
    }
  })
  .meta({ id: 'NotificationFilter' });
export type SubscriptionFilter = z.infer<typeof subscriptionFilter>;

/**
 * Why an attempt failed, as stored and shown (`last_error.code`). Never a receiver's body, a URL or a secret.
 * - TARGET_NOT_ALLOWED: the host resolved to a private, loopback or link-local address not in NOTIFICATION_ALLOWED_HOSTS.
 * - DNS_FAILED, CONNECTION_FAILED, TIMEOUT: the target could not be resolved, reached, or did not answer in time.
 * - HTTP_STATUS: the receiver answered outside 2xx (its status is in `http_status`); 3xx redirects are not followed.
 * - SECRET_UNAVAILABLE: the stored target or secret cannot be decrypted with NOTIFICATION_SECRET_KEYS (key removed).
 */
export const DELIVERY_FAILURES = {
  targetNotAllowed: 'TARGET_NOT_ALLOWED',
  dnsFailed: 'DNS_FAILED',
  connectionFailed: 'CONNECTION_FAILED',
  timeout: 'TIMEOUT',
  httpStatus: 'HTTP_STATUS',
  secretUnavailable: 'SECRET_UNAVAILABLE',
} as const;
export type DeliveryFailureCode = (typeof DELIVERY_FAILURES)[keyof typeof DELIVERY_FAILURES];


/** A subscription as the api shows it: the contract's shape, with the filter the api validates. */
export const publicSubscription = notificationSubscriptionBody.extend({ filter: subscriptionFilter }).meta({ id: 'NotificationSubscription' });
export type PublicSubscription = z.infer<typeof publicSubscription>;

/** A filter as the trigger reads it (three nullable arrays) back to the api's object form. */
export const filterFromColumns = (columns: { filter_kinds: readonly string[] | null; filter_actions: readonly string[] | null; filter_outcomes: readonly string[] | null }): SubscriptionFilter =>
  ({
    ...(columns.filter_kinds === null ? {} : { kinds: [...columns.filter_kinds] }),
    ...(columns.filter_actions === null ? {} : { actions: [...columns.filter_actions] }),
    ...(columns.filter_outcomes === null ? {} : { outcomes: [...columns.filter_outcomes] }),
  }) as SubscriptionFilter;

/** The Standard Webhooks `webhook-id` of a delivery: the same on every attempt, unique per subscription and entry. */
export const deliveryMessageId = (subscriptionId: string, auditId: number): string => `msg_${subscriptionId.replaceAll('-', '')}_${auditId}`;
