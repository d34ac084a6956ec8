import {
  DELIVERY_FAILURES,
  SecretUnavailableError,
  deliveryMessageId,
  openSecret,
  type LeasedSubscription,
  type NotificationKeyring,
} from '@valhalla/core/notifications';
import type { AuditEntry } from '@valhalla/contract';
import { postToTarget, type PostOptions, type PostOutcome } from './postToTarget.js';
import { slackBody } from './slackMessage.js';
import { webhookBody, webhookHeaders } from './webhookMessage.js';

/** The largest answer read from a receiver: only its status matters. */
const MAX_RESPONSE_BYTES = 64 * 1024;

export type AttemptOptions = Omit<PostOptions, 'maxResponseBytes'> & {
  /** NOTIFICATION_SECRET_KEYS; undefined when not configured (every attempt then fails as SECRET_UNAVAILABLE). */
  secretKeys: NotificationKeyring | undefined;
  consoleUrl: string | undefined;
};

/**
 * One attempt of a delivery (`entry` to `subscription`): open its sealed target (and signing secret), build the message
 * (Standard Webhooks JSON signed with the secret, or a Slack Block Kit message), and POST it. Never rejects; the
 * opened target and secret live only in this call (never logged, never stored in the clear).
 */
export const attemptDelivery = async (subscription: LeasedSubscription, entry: AuditEntry, options: AttemptOptions): Promise<PostOutcome> => {
  let target: URL;
  let secret: string | null = null;
  try {
    if (options.secretKeys === undefined) throw new SecretUnavailableError('NOTIFICATION_SECRET_KEYS is not set on this worker');
    target = new URL(openSecret(options.secretKeys, subscription.targetCiphertext, `${subscription.subscriptionId}:target`));
    if (subscription.secretCiphertext !== null) secret = openSecret(options.secretKeys, subscription.secretCiphertext, `${subscription.subscriptionId}:secret`);
  } catch (error) {
    const message = error instanceof SecretUnavailableError ? error.message : 'the stored target cannot be read';
    return { ok: false, code: DELIVERY_FAILURES.secretUnavailable, message, status: null, gone: false, retryAfterMs: undefined };
  }
  const post: PostOptions = { ...options, maxResponseBytes: MAX_RESPONSE_BYTES };
  if (subscription.kind === 'slack') return postToTarget(target, slackBody(entry, options.consoleUrl), {}, post);
  if (secret === null) {
    return { ok: false, code: DELIVERY_FAILURES.secretUnavailable, message: 'the webhook has no signing secret', status: null, gone: false, retryAfterMs: undefined };
  }
  const body = webhookBody(entry, options.consoleUrl);
  return postToTarget(target, body, webhookHeaders(secret, deliveryMessageId(subscription.subscriptionId, entry.id), body), post);
};
