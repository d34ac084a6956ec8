import type { AuditEntry } from '@valhalla/contract';
import { Webhook } from 'standardwebhooks';

/**
 * The body of a webhook delivery, in the Standard Webhooks payload shape: `type` (the audit action), `timestamp` (when
 * the entry was written) and `data` (the audit entry: who, why, before and after, its id in the log). Built from the
 * entry alone, so every attempt of a delivery sends the same bytes.
 */
export const webhookBody = (entry: AuditEntry, consoleUrl: string | undefined): string =>
  JSON.stringify({
    type: entry.action,
    timestamp: entry.created_at,
    data: {
      audit_id: entry.id,
      kind: entry.kind,
      action: entry.action,
      outcome: entry.outcome,
      actor: entry.actor,
      reason: entry.reason,
      before: entry.before,
      after: entry.after,
      unmet_conditions: entry.unmet_conditions,
      job_id: entry.job_id,
      request_id: entry.request_id,
      details: entry.details,
      created_at: entry.created_at,
      hash: entry.hash,
      ...(consoleUrl === undefined ? {} : { console_url: consoleEntryUrl(consoleUrl, entry.id) }),
    },
  });

/** The console's audit screen with this entry at the top. */
export const consoleEntryUrl = (consoleUrl: string, auditId: number): string => `${consoleUrl.replace(/#.*$/, '')}#/audit?before=${auditId + 1}`;

/**
 * The Standard Webhooks headers of one attempt: `webhook-id` (the same on every attempt of a delivery: receivers
 * de-duplicate on it), `webhook-timestamp` (this attempt, seconds) and `webhook-signature` (`v1,<base64 HMAC-SHA256>`
 * of `id.timestamp.body`, computed by the standardwebhooks package with the subscription's `whsec_` secret).
 */
export const webhookHeaders = (secret: string, messageId: string, body: string, now: Date = new Date()): Record<string, string> => ({
  'webhook-id': messageId,
  'webhook-timestamp': String(Math.floor(now.getTime() / 1000)),
  'webhook-signature': new Webhook(secret).sign(messageId, now, body),
});
