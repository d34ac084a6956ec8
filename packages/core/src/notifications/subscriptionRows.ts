import { sql, type CommonQueryMethods } from 'slonik';
import { z } from 'zod';
import { CIRCUIT_STATES, SUBSCRIPTION_KIND_VALUES, SUBSCRIPTION_STATES, type SubscriptionKind } from '@valhalla/contract';
import { filterFromColumns, type PublicSubscription } from './model.js';
import { sealedKeyId } from './secretKeyring.js';

/** A subscription row with its backlog, as every reader (api, metrics, CLI through the api) sees it. */
const subscriptionRow = z.object({
  id: z.string(),
  kind: z.enum(SUBSCRIPTION_KIND_VALUES),
  description: z.string().nullable(),
  target_display: z.string(),
  target_ciphertext: z.string(),
  filter_kinds: z.array(z.string()).nullable(),
  filter_actions: z.array(z.string()).nullable(),
  filter_outcomes: z.array(z.string()).nullable(),
  enabled: z.boolean(),
  created_by: z.string(),
  created_at: z.string(),
  updated_by: z.string(),
  updated_at: z.string(),
  delivered_through: z.number(),
  consecutive_failures: z.number(),
  failing_since: z.string().nullable(),
  next_attempt_at: z.string(),
  dead_lettered_at: z.string().nullable(),
  dead_letter_reason: z.string().nullable(),
  last_success_at: z.string().nullable(),
  last_error_code: z.string().nullable(),
  last_error_message: z.string().nullable(),
  last_error_status: z.number().nullable(),
  last_error_at: z.string().nullable(),
  backlog: z.number(),
  oldest_pending_at: z.string().nullable(),
  read_at: z.string(),
});
export type SubscriptionRow = z.infer<typeof subscriptionRow>;

/**
 * The columns of a subscription and its backlog. The backlog is the outbox rows above `delivered_through` that name
 * the subscription (a range of the outbox's primary key); the oldest pending one is the head, the lowest audit id.
 */
const SELECT_SUBSCRIPTIONS = sql.fragment`
  SELECT s.id::text AS id, s.kind, s.description, s.target_display, s.target_ciphertext, s.filter_kinds, s.filter_actions,
         s.filter_outcomes, s.enabled, s.created_by, s.created_at, s.updated_by, s.updated_at, s.delivered_through,
         s.consecutive_failures, s.failing_since, s.next_attempt_at, s.dead_lettered_at, s.dead_letter_reason,
         s.last_success_at, s.last_error_code, s.last_error_message, s.last_error_status, s.last_error_at,
         (SELECT count(*) FROM public.notification_outbox o
          WHERE o.audit_id > s.delivered_through AND s.id = ANY (o.subscription_ids))::int AS backlog,
         (SELECT o.created_at FROM public.notification_outbox o
          WHERE o.audit_id > s.delivered_through AND s.id = ANY (o.subscription_ids) ORDER BY o.audit_id LIMIT 1) AS oldest_pending_at,
         now() AS read_at
  FROM public.notification_subscriptions s
`;

/** Every subscription, oldest first. */
export const listSubscriptionRows = async (db: CommonQueryMethods): Promise<SubscriptionRow[]> => [
  ...(await db.any(sql.type(subscriptionRow)`${SELECT_SUBSCRIPTIONS} ORDER BY s.created_at, s.id`)),
];

/** One subscription, or null. `id` must be a UUID (the api validates it). */
export const findSubscriptionRow = async (db: CommonQueryMethods, id: string): Promise<SubscriptionRow | null> =>
  db.maybeOne(sql.type(subscriptionRow)`${SELECT_SUBSCRIPTIONS} WHERE s.id = ${id}::uuid`);

/**
 * The target as it may be shown: a webhook URL without its query string (`?…` when it had one: it may carry a
 * token); a Slack URL's origin and first path segment only (the rest of a Slack incoming-webhook URL is its secret).
 */
export const targetDisplay = (kind: SubscriptionKind, url: URL): string => {
  const query = url.search === '' ? '' : '?…';
  if (kind === 'webhook') return `${url.origin}${url.pathname}${query}`;
  const [first] = url.pathname.split('/').filter((part) => part.length > 0);
  return first === undefined ? `${url.origin}/…` : `${url.origin}/${first}/…`;
};

/**
 * A row as the api answers it. `circuitThreshold` is NOTIFICATION_CIRCUIT_THRESHOLD: at that many consecutive
 * failures the circuit is open until the next attempt is due, then half-open (the next attempt is a probe).
 */
export const toPublicSubscription = (row: SubscriptionRow, circuitThreshold: number): PublicSubscription => {
  const due = Date.parse(row.next_attempt_at) <= Date.parse(row.read_at);
  return {
    id: row.id,
    kind: row.kind,
    target: row.target_display,
    description: row.description,
    filter: filterFromColumns(row),
    enabled: row.enabled,
    secret_key_id: sealedKeyId(row.target_ciphertext) ?? 'unknown',
    created_by: row.created_by,
    created_at: row.created_at,
    updated_by: row.updated_by,
    updated_at: row.updated_at,
    status: {
      state: row.dead_lettered_at !== null ? SUBSCRIPTION_STATES.deadLettered : row.enabled ? SUBSCRIPTION_STATES.active : SUBSCRIPTION_STATES.paused,
      // A dead-lettered subscription makes no attempt at all: open until resumed.
      circuit:
        row.dead_lettered_at !== null
          ? CIRCUIT_STATES.open
          : row.consecutive_failures < circuitThreshold
            ? CIRCUIT_STATES.closed
            : due
              ? CIRCUIT_STATES.halfOpen
              : CIRCUIT_STATES.open,
      backlog: row.backlog,
      oldest_pending_at: row.oldest_pending_at,
      delivered_through: row.delivered_through,
      last_success_at: row.last_success_at,
      last_error:
        row.last_error_code === null || row.last_error_at === null
          ? null
          : { code: row.last_error_code, message: row.last_error_message ?? '', http_status: row.last_error_status, at: row.last_error_at },
      consecutive_failures: row.consecutive_failures,
      failing_since: row.failing_since,
      next_attempt_at: row.backlog === 0 ? null : row.next_attempt_at,
      dead_lettered_at: row.dead_lettered_at,
      dead_letter_reason: row.dead_letter_reason,
    },
  };
};
