import { expect } from 'vitest';
import { sql, type DatabasePool } from '../../../packages/core/src/index.js';
import { deliveryMessageId } from '../../../packages/core/src/notifications/index.js';
import { bearer, type ApiHarness } from '../../api/support.js';
import { waitFor } from '../../helpers/waitFor.js';
import type { Receipt, WebhookReceiver } from './receiver.js';

/**
 * Notification settings for tests: receivers listen on 127.0.0.1 (allowed), and the backoff is shortened so that an
 * outage of a few seconds goes through many attempts (and the circuit opens) instead of one.
 */
export const NOTIFY_ENV = {
  ADMIN_ACTORS: 'alice',
  NOTIFICATION_ALLOWED_HOSTS: '127.0.0.1',
  NOTIFICATION_TIMEOUT_MS: '500',
  NOTIFICATION_RETRY_BASE_MS: '20',
  NOTIFICATION_RETRY_MAX_MS: '250',
  NOTIFICATION_CIRCUIT_THRESHOLD: '4',
  NOTIFICATION_POLL_MS: '1000',
} as const;

export const SAFETY_ACTIONS = ['kill_switch.engage', 'kill_switch.release'] as const;

export type Subscription = { id: string; secret: string | null; [key: string]: unknown };

/** Creates a subscription through the api (as alice, an admin) and returns the 201 body. */
export const subscribe = async (api: ApiHarness, body: { kind?: 'webhook' | 'slack'; url: string; filter: object; enabled?: boolean }): Promise<Subscription> => {
  const response = await api.app.inject({
    method: 'POST',
    url: '/api/notifications/subscriptions',
    headers: bearer(),
    payload: { kind: body.kind ?? 'webhook', url: body.url, filter: body.filter, reason: 'test subscription', ...(body.enabled === undefined ? {} : { enabled: body.enabled }) },
  });
  expect(response.statusCode, response.body).toBe(201);
  return response.json<Subscription>();
};

/** The subscription's status as the api answers it. */
export const statusOf = async (api: ApiHarness, id: string): Promise<Record<string, any>> => {
  const response = await api.app.inject({ method: 'GET', url: `/api/notifications/subscriptions/${id}`, headers: bearer() });
  expect(response.statusCode).toBe(200);
  return response.json<{ status: Record<string, any> }>().status;
};

/** Audit ids of the entries with these actions, in audit order (what a subscription to them must receive). */
export const auditIdsOf = async (pool: DatabasePool, actions: readonly string[]): Promise<number[]> =>
  (await pool.anyFirst(sql.unsafe`SELECT id FROM public.governance_audit_log WHERE action = ANY(${sql.array([...actions], 'text')}) ORDER BY id`)) as number[];

/** Waits until the subscription has no backlog and the receiver processed `count` distinct messages. */
export const waitForDelivered = async (api: ApiHarness, receiver: WebhookReceiver, id: string, count: number, timeoutMs = 60_000) =>
  waitFor(
    async () => {
      const distinct = new Set(receiver.processed().map((receipt) => receipt.id)).size;
      if (distinct < count) return false;
      const status = await statusOf(api, id);
      return status.backlog === 0 ? status : false;
    },
    { timeoutMs, intervalMs: 100, description: `${count} deliveries to subscription ${id}` },
  );

/**
 * The guarantees a receiver sees: every message verified with the standardwebhooks library; the first receipt of each
 * webhook-id comes in audit order and they are exactly `expected`; any other receipt repeats an id already received
 * with the same body (a retry after a lost answer: at least once, never a different message under an old id).
 */
export const expectExactlyInAuditOrder = (receipts: readonly Receipt[], subscriptionId: string, expected: readonly number[]): void => {
  expect(receipts.every((receipt) => receipt.verified), 'every receipt verifies').toBe(true);
  const first = new Map<string, Receipt>();
  for (const receipt of receipts) {
    expect(receipt.id).toBe(deliveryMessageId(subscriptionId, receipt.auditId));
    const seen = first.get(receipt.id);
    if (seen === undefined) first.set(receipt.id, receipt);
    else expect(receipt.body, `a duplicate of ${receipt.id} is the same message`).toBe(seen.body);
  }
  expect([...first.values()].map((receipt) => receipt.auditId)).toEqual(expected);
};
