import { z } from 'zod';
import { integer, oneOf } from './schemas.js';
import { defaulted, optional, text } from './variable.js';

export const LOG_LEVELS = ['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent'] as const;
/** Where a process outside production finds PostgreSQL and Redis when their variables are unset. */
export const LOCAL_DATABASE_URL = 'postgresql://postgres@127.0.0.1:5432/postgres';
export const LOCAL_REDIS_URL = 'redis://127.0.0.1:6379';
/** BullMQ's own default prefix: the keys every release before QUEUE_PREFIX used, so an upgrade keeps its jobs. */
export const DEFAULT_QUEUE_PREFIX = 'bull';

const databaseUrl = z
  .string()
  .regex(/^postgres(ql)?:\/\/.+/, 'must be a postgres:// or postgresql:// URL')
  .superRefine((value, ctx) => {
    // A libpq multi-host string (host1:5432,host2:5432) parses as one host node-postgres cannot resolve, or not at
    // all: the product would retry a host that never exists instead of saying so.
    const authority = /^[^:]+:\/\/([^/?#]*)/.exec(value)?.[1] ?? '';
    if (authority.slice(authority.lastIndexOf('@') + 1).includes(',')) {
      ctx.addIssue({
        code: 'custom',
        message: 'names several hosts (a libpq multi-host string); node-postgres connects to one address: give one that always reaches the primary (a DNS name, pgbouncer), see docs/scaling.md',
      });
    } else if (!URL.canParse(value)) ctx.addIssue({ code: 'custom', message: 'is not a valid URL' });
  });

/**
 * Variables more than one process reads. The api and the worker parse the shared, api and worker sections alike (one
 * Config), so a value one of them would refuse stops both; `readBy` says which process acts on it.
 */
export const sharedVariables = {
  NODE_ENV: defaulted({
    ...oneOf(['development', 'test', 'production']),
    default: 'development',
    readBy: ['api', 'worker', 'migrate'],
    doc: 'production makes DATABASE_URL, REDIS_URL, GOVERNANCE_TOKENS and AUDIT_HMAC_KEYS required, tokens at least 24 characters, the development keys refused and /metrics closed without METRICS_TOKEN.',
  }),
  DATABASE_URL: optional({
    schema: databaseUrl,
    type: 'postgres:// or postgresql:// URL, one host',
    defaultText: `${LOCAL_DATABASE_URL} outside production; required in production`,
    readBy: ['api', 'worker', 'migrate', 'dev'],
    doc: 'The PostgreSQL database (the record). npm run dev starts an embedded one when unset; the migrate command then takes the running dev database.',
  }),
  REDIS_URL: optional({
    schema: z.string().regex(/^rediss?:\/\/.+/, 'must be a redis:// or rediss:// URL'),
    type: 'redis:// or rediss:// URL',
    defaultText: `${LOCAL_REDIS_URL} outside production; required in production unless REDIS_CLUSTER_NODES or REDIS_SENTINELS is set`,
    readBy: ['api', 'worker', 'dev'],
    doc: 'One Redis server for the queues (needs maxmemory-policy noeviction). npm run dev starts a redis-server when unset.',
  }),
  REDIS_CLUSTER_NODES: optional({
    ...text(),
    type: 'comma-separated host:port',
    readBy: ['api', 'worker'],
    doc: 'A Redis Cluster instead of REDIS_URL: its seed nodes. Needs a hash-tagged QUEUE_PREFIX such as {valhalla}.',
  }),
  REDIS_SENTINELS: optional({
    ...text(),
    type: 'comma-separated host:port',
    readBy: ['api', 'worker'],
    doc: 'Redis behind Sentinel instead of REDIS_URL: the sentinels, with REDIS_SENTINEL_MASTER.',
  }),
  REDIS_SENTINEL_MASTER: optional({
    ...text(),
    readBy: ['api', 'worker'],
    doc: 'The group name the sentinels monitor; required with REDIS_SENTINELS and used only with it.',
  }),
  REDIS_PASSWORD: optional({
    ...text(),
    readBy: ['api', 'worker'],
    doc: 'Password of the Cluster nodes or of the Sentinel primary and replicas (REDIS_URL carries its own).',
  }),
  REDIS_SENTINEL_PASSWORD: optional({
    ...text(),
    readBy: ['api', 'worker'],
    doc: "The sentinels' own password, when they have one; used only with REDIS_SENTINELS.",
  }),
  QUEUE_PREFIX: optional({
    ...text(),
    type: '1–100 of letters, digits, _ . : - and one {hash tag}',
    defaultText: DEFAULT_QUEUE_PREFIX,
    readBy: ['api', 'worker'],
    doc: 'Prefix of every queue key in Redis; api and worker must agree. BULLMQ_PREFIX is its deprecated name.',
  }),
  BULLMQ_PREFIX: optional({
    ...text(),
    type: 'as QUEUE_PREFIX',
    readBy: ['api', 'worker'],
    doc: 'Deprecated name of QUEUE_PREFIX: still honoured (with a warning at startup); a different value from QUEUE_PREFIX is refused.',
  }),
  AUDIT_HMAC_KEYS: optional({
    ...text(),
    type: 'comma-separated keyid:key, keys of 32+ characters',
    defaultText: 'a public development key outside production; required in production',
    readBy: ['api', 'worker', 'migrate'],
    doc: 'Keys of the audit hash chain: the first signs new entries, every one verifies (rotation: put the new key first). Generate one with openssl rand -base64 33.',
  }),
  APPROVALS_REQUIRED: defaulted({
    ...integer(1, 10),
    default: 1,
    readBy: ['api', 'worker'],
    doc: 'Distinct operators who must agree before go_live.enable or kill_switch.release runs (1 = the requester alone). The worker refuses to start with a value other than the api\'s.',
  }),
  LOG_LEVEL: defaulted({
    ...oneOf(LOG_LEVELS),
    default: 'info',
    readBy: ['api', 'worker', 'dev'],
    doc: 'Log level of the JSON logs on stdout; npm run dev shows request lines at debug or trace.',
  }),
  RELEASE: optional({
    ...text(),
    defaultText: 'RENDER_GIT_COMMIT, else local',
    readBy: ['api', 'worker'],
    doc: 'The release this process runs, in logs, metrics, heartbeats and the audit log (release skew is checked across workers).',
  }),
  RENDER_GIT_COMMIT: optional({
    ...text(),
    readBy: ['api', 'worker', 'render'],
    doc: 'Provided by Render: the commit being deployed, the default of RELEASE.',
  }),
  DATABASE_POOL_SIZE: defaulted({
    ...integer(1, 200),
    default: 10,
    readBy: ['api', 'worker'],
    doc: 'Connections each process keeps to PostgreSQL (docs/scaling.md adds them up against max_connections).',
  }),
  SHUTDOWN_TIMEOUT_MS: defaulted({
    ...integer(1000, 290_000),
    default: 25_000,
    readBy: ['api', 'worker'],
    doc: "After SIGTERM: how long in-flight requests and jobs may run before the process closes anyway (keep it under the platform's shutdown delay).",
  }),
  HEARTBEAT_INTERVAL_MS: defaulted({
    ...integer(100, 600_000),
    default: 10_000,
    readBy: ['api', 'worker'],
    doc: 'How often each worker records its heartbeat; the api counts a worker alive within a few intervals.',
  }),
  MIGRATIONS_DIR: optional({
    ...text(),
    type: 'path',
    defaultText: "the repository's migrations/",
    readBy: ['worker', 'migrate'],
    doc: 'Folder of the migration revisions; tests point it at an edited copy.',
  }),
  NOTIFICATION_SECRET_KEYS: optional({
    ...text(),
    type: 'comma-separated keyid:base64 (32 bytes each)',
    defaultText: 'a public development key outside production; none in production (creating a subscription then answers NOTIFICATIONS_NOT_CONFIGURED)',
    readBy: ['api', 'worker'],
    doc: 'Seal notification targets and signing secrets: the first key seals, every one opens. Generate one with openssl rand -base64 32.',
  }),
  NOTIFICATION_ALLOWED_HOSTS: optional({
    ...text(),
    type: 'comma-separated host, host:port or [v6]:port',
    defaultText: 'none',
    readBy: ['api', 'worker'],
    doc: 'Notification targets that may resolve to private, loopback or link-local addresses (all others must be public).',
  }),
  NOTIFICATION_CIRCUIT_THRESHOLD: defaulted({
    ...integer(1, 1000),
    default: 5,
    readBy: ['api', 'worker'],
    doc: "Consecutive failed deliveries that open a subscription's circuit (then one probe at the backoff cap).",
  }),
} as const;
