import { createHash } from 'node:crypto';
import { z } from 'zod';

/** The label that asks Valhalla to engage the kill switch, and its only value. */
const ENGAGE_LABEL = 'valhalla_action';
const ENGAGE_VALUE = 'engage_kill_switch';

const labelSet = z.record(z.string().max(10_000), z.string().max(10_000));

/**
 * Prometheus Alertmanager's webhook body, payload version 4
 * (https://prometheus.io/docs/alerting/latest/configuration/#webhook_config). Not strict: Alertmanager may add
 * fields; the ones read here are required with their types.
 */
export const alertmanagerPayload = z.object({
  version: z.literal('4', { error: 'must be "4" (Alertmanager webhook payload version 4)' }),
  groupKey: z.string().max(10_000).optional(),
  truncatedAlerts: z.number().int().min(0).optional(),
  status: z.enum(['firing', 'resolved']),
  receiver: z.string().max(10_000).optional(),
  groupLabels: labelSet.optional(),
  commonLabels: labelSet.optional(),
  commonAnnotations: labelSet.optional(),
  externalURL: z.string().max(10_000).optional(),
  alerts: z
    .array(
      z.object({
        status: z.enum(['firing', 'resolved']),
        labels: labelSet,
        annotations: labelSet.optional(),
        startsAt: z.string().min(1).max(100),
        endsAt: z.string().max(100).optional(),
        generatorURL: z.string().max(10_000).optional(),
        fingerprint: z.string().min(1).max(200),
      }),
    )
    .max(1000),
});
type AlertmanagerPayload = z.infer<typeof alertmanagerPayload>;
export type Alert = AlertmanagerPayload['alerts'][number];

/** Only a firing alert with the engage label acts; everything else (resolved, other labels) changes nothing. */
export const isEngageAlert = (alert: Alert): boolean => alert.status === 'firing' && alert.labels[ENGAGE_LABEL] === ENGAGE_VALUE;

/**
 * Control characters (C0, DEL and C1, NUL included) and bidirectional controls out, lone surrogates replaced: what a
 * reason may hold. An alert's labels are whatever its rule made them; the engage must still happen.
 */
const clean = (text: string): string =>
  // eslint-disable-next-line no-control-regex -- matching control characters is the point
  text.toWellFormed().replace(/[\u0000-\u001f\u007f-\u009f\u202a-\u202e\u2066-\u2069]+/g, ' ').replace(/ {2,}/g, ' ').trim();

/**
 * The Idempotency-Key of an alert's engage: one per alert firing (fingerprint and startsAt), hashed so that any
 * fingerprint fits (a NUL cannot reach PostgreSQL, a long one is not cut, so a refire never collides with the
 * previous firing).
 */
export const alertEngageKey = (alert: Alert): string =>
  `alertmanager:${createHash('sha256').update(`${alert.fingerprint}\u0000${alert.startsAt}`, 'utf8').digest('hex')}`;

/** The audit reason of an engage: `<alertname>: <summary>` (or the alert name alone), 1–500 characters. */
export const engageReason = (alert: Alert): string => {
  const name = clean(alert.labels.alertname ?? '') || 'unnamed alert';
  const summary = clean(alert.annotations?.summary ?? '');
  const reason = summary.length > 0 ? `alert ${name}: ${summary}` : `alert ${name} fired`;
  return reason.length > 500 ? `${reason.slice(0, 499)}…` : reason;
};
