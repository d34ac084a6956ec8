import { z } from 'zod';
import { integer, oneOf } from './schemas.js';
import { defaulted, optional, text } from './variable.js';

/** `crash-after-commit:<count>` or `crash-after-commit:job=<jobId>`, parsed into what the worker's hook needs. */
const faultSpec = z.string().transform((spec, ctx) => {
  const match = /^crash-after-commit:(?:(\d+)|job=(.+))$/.exec(spec.trim());
  if (match === null) {
    ctx.addIssue({ code: 'custom', message: 'must be crash-after-commit:<count> or crash-after-commit:job=<jobId>' });
    return z.NEVER;
  }
  const [, count, jobId] = match;
  return jobId === undefined
    ? { description: spec, crashAfterCommits: Number(count), crashAfterJobId: undefined }
    : { description: spec, crashAfterCommits: undefined, crashAfterJobId: jobId };
});

const httpUrl = (message: string) =>
  z.string().refine((value) => /^https?:\/\/\S+$/.test(value) && URL.canParse(value), message);

/** Variables only the worker acts on (the api checks them too: see sharedVariables). */
export const workerVariables = {
  WORKER_CONCURRENCY: defaulted({
    ...integer(1, 1000),
    // Every governance change serialises on row 1's lock: jobs beyond a few in flight only wait in PostgreSQL's FIFO
    // lock queue, where BullMQ priorities (kill switch first) no longer apply. Raise it for slow verifications.
    default: 64,
    readBy: ['worker'],
    doc: 'Jobs one worker runs at once (changes are group-committed; more only queue on the state row lock).',
  }),
  API_URL: optional({
    // A URL, or Render's `fromService` `hostport` (host:port on the private network, plain HTTP).
    schema: z.string().transform((value, ctx) => {
      const url = /^[A-Za-z0-9](?:[A-Za-z0-9.-]*[A-Za-z0-9])?:[0-9]{1,5}$/.test(value) ? `http://${value}` : value;
      if (!/^https?:\/\/\S+$/.test(url) || !URL.canParse(url)) {
        ctx.addIssue({ code: 'custom', message: 'must be an http(s) URL or host:port' });
        return z.NEVER;
      }
      return url.replace(/\/+$/, '');
    }),
    type: 'http(s) URL, or host:port (plain HTTP)',
    defaultText: 'none: the verification skips its api checks',
    readBy: ['worker'],
    doc: "The api's address, which the verification probes (on Render its private host:port).",
  }),
  METRICS_PORT: optional({
    ...integer(0, 65535),
    defaultText: 'none: no metrics server',
    readBy: ['worker'],
    doc: "Port of the worker's GET /metrics (0 picks a free one).",
  }),
  CHANGE_MAX_AGE_SECONDS: defaulted({
    ...integer(1, 30 * 24 * 3600),
    default: 3600,
    readBy: ['worker'],
    doc: 'A change (other than an engage or a disable) not applied this long after its creation is rejected as EXPIRED.',
  }),
  TRANSIENT_RETRY_BASE_MS: defaulted({
    ...integer(10, 600_000),
    default: 500,
    readBy: ['worker'],
    doc: 'First delay of the backoff through transient failures (PostgreSQL or Redis unreachable, failover), doubling with jitter.',
  }),
  TRANSIENT_RETRY_MAX_MS: defaulted({
    ...integer(10, 3_600_000),
    default: 30_000,
    readBy: ['worker'],
    doc: 'Cap of that backoff; not below TRANSIENT_RETRY_BASE_MS.',
  }),
  WORKER_LOCK_DURATION_MS: defaulted({
    ...integer(500, 600_000),
    default: 30_000,
    readBy: ['worker'],
    doc: "How long a job's lock lives without renewal (renewed every half of it while the job runs).",
  }),
  WORKER_STALLED_INTERVAL_MS: defaulted({
    ...integer(200, 600_000),
    default: 15_000,
    readBy: ['worker'],
    doc: 'How often each worker looks for jobs whose lock expired (their worker died) and re-queues them.',
  }),
  WORKER_MAX_STALLED_COUNT: defaulted({
    ...integer(1, 100),
    default: 2,
    readBy: ['worker'],
    doc: 'How many times a job may stall before it fails (a re-run of an applied change is a replay).',
  }),
  RECONCILE_INTERVAL_MS: defaulted({
    ...integer(50, 600_000),
    default: 2_000,
    readBy: ['worker'],
    doc: 'How often one worker of the cluster re-enqueues accepted jobs that Redis lost.',
  }),
  RECONCILE_GRACE_MS: defaulted({
    ...integer(0, 3_600_000),
    default: 5_000,
    readBy: ['worker'],
    doc: 'How old an acceptance must be before the reconciler checks it against Redis.',
  }),
  VERIFY_INTERVAL_SECONDS: defaulted({
    ...integer(0, 7 * 24 * 3600),
    default: 900,
    readBy: ['worker'],
    doc: 'Period of the verification watchdog (0 turns it off).',
  }),
  DRIFT_ACTION: defaulted({
    ...oneOf(['alert', 'engage']),
    default: 'alert',
    readBy: ['worker'],
    doc: 'What the watchdog does when a scheduled verification fails after a passed one: alert (audit entry, log, metric), or engage the kill switch as well.',
  }),
  VERIFY_API_TOKEN: optional({
    ...text(),
    defaultText: 'none: the runbook status check is skipped',
    readBy: ['worker'],
    doc: 'An operator token the verification uses to probe the runbook status endpoint.',
  }),
  WORKER_FAULT: optional({
    schema: faultSpec,
    type: 'crash-after-commit:<count> or crash-after-commit:job=<jobId>',
    readBy: ['worker'],
    doc: 'TEST-ONLY: SIGKILL the worker right after it commits a change. Refused when NODE_ENV=production.',
  }),
  NOTIFICATION_TIMEOUT_MS: defaulted({
    ...integer(100, 60_000),
    default: 10_000,
    readBy: ['worker'],
    doc: 'A whole delivery attempt (connect, request, response) must end within this.',
  }),
  NOTIFICATION_RETRY_BASE_MS: defaulted({
    ...integer(10, 600_000),
    default: 1_000,
    readBy: ['worker'],
    doc: 'First delay after a failed delivery, doubling with jitter.',
  }),
  NOTIFICATION_RETRY_MAX_MS: defaulted({
    ...integer(10, 86_400_000),
    default: 600_000,
    readBy: ['worker'],
    doc: 'Cap of the delivery backoff; not below NOTIFICATION_RETRY_BASE_MS.',
  }),
  NOTIFICATION_DEAD_LETTER_AFTER_SECONDS: defaulted({
    ...integer(1, 90 * 24 * 3600),
    default: 3 * 24 * 3600,
    readBy: ['worker'],
    doc: 'A subscription failing this long is dead-lettered until an operator resumes it.',
  }),
  NOTIFICATION_CONCURRENCY: defaulted({
    ...integer(1, 256),
    default: 8,
    readBy: ['worker'],
    doc: 'Subscriptions one worker delivers to at once (each one delivery at a time).',
  }),
  NOTIFICATION_POLL_MS: defaulted({
    ...integer(50, 600_000),
    default: 5_000,
    readBy: ['worker'],
    doc: 'How often the worker looks for due deliveries besides LISTEN/NOTIFY.',
  }),
  NOTIFICATION_RETENTION_DAYS: defaulted({
    ...integer(1, 3650),
    default: 7,
    readBy: ['worker'],
    doc: 'Delivered deliveries are kept this long (the delivery history), then purged.',
  }),
  NOTIFICATION_CONSOLE_URL: optional({
    schema: httpUrl('must be an http(s) URL (where people open the console)'),
    type: 'http(s) URL',
    defaultText: 'none: no link',
    readBy: ['worker'],
    doc: 'Where people open the console, for the link in Slack messages.',
  }),
} as const;
