import { z } from 'zod';
import { GOVERNANCE_ACTION_VALUES } from './vocabulary.js';
import { CHANGE_REJECTED_CODES } from './failureCodes.js';

/** Row 1 of `public.system_metadata`, column names as in the table. Timestamps are ISO-8601 strings. */
export const systemMetadataRow = z.object({
  id: z.number(),
  version: z.string(),
  backend_complete: z.boolean(),
  notes: z.string().nullable(),
  updated_at: z.string().nullable(),
  completed_at: z.string().nullable(),
});
export type SystemMetadataRow = z.infer<typeof systemMetadataRow>;

/** Row 1 of `public.go_live_state`, column names as in the table. */
export const goLiveStateRow = z.object({
  id: z.number(),
  go_live_enabled: z.boolean(),
  kill_switch_engaged: z.boolean(),
  changed_by: z.string().nullable(),
  reason: z.string().nullable(),
  updated_at: z.string().nullable(),
});
export type GoLiveStateRow = z.infer<typeof goLiveStateRow>;

/** What an audit entry stores as before/after: enough to replay the state from the log alone. */
export const stateSnapshot = z.object({
  go_live_enabled: z.boolean(),
  kill_switch_engaged: z.boolean(),
  live: z.boolean(),
  version: z.string(),
  backend_complete: z.boolean(),
  notes: z.string().nullable(),
});
export type StateSnapshot = z.infer<typeof stateSnapshot>;

const auditEntryColumns = {
  id: z.number(),
  job_id: z.string().nullable(),
  action: z.string(),
  actor: z.string(),
  reason: z.string(),
  unmet_conditions: z.array(z.string()),
  request_id: z.string().nullable(),
  created_at: z.string(),
  prev_hash: z.string().nullable(),
  hash: z.string(),
  /** The AUDIT_HMAC_KEYS key id that signed the entry; null for rows hashed inside the database (unkeyed). */
  key_id: z.string().nullable(),
  details: z.record(z.string(), z.unknown()),
};

/**
 * One audit-log row. `kind` tells a change entry (outcome applied/unchanged/rejected, before/after are state
 * snapshots: replaying them gives the state) from an event entry (no outcome; before/after are whatever the event
 * recorded, e.g. the table rows of a write made outside the product).
 */
export const auditEntryRow = z.discriminatedUnion('kind', [
  z.object({
    kind: z.literal('change'),
    outcome: z.enum(['applied', 'unchanged', 'rejected']),
    before: stateSnapshot,
    after: stateSnapshot,
    ...auditEntryColumns,
  }),
  z.object({
    kind: z.literal('event'),
    outcome: z.null(),
    before: z.record(z.string(), z.unknown()),
    after: z.record(z.string(), z.unknown()),
    ...auditEntryColumns,
  }),
]);
export type AuditEntry = z.infer<typeof auditEntryRow>;

/**
 * What an audit-chain check covered, as data (the console says exactly what was verified; nobody parses `detail`).
 * `full` read every row from the first; `incremental` the rows after checkpoint `after_checkpoint`, whose head was row
 * `after_row`. `head_row` is the newest row found intact (null when the log is empty or the chain is broken).
 */
export const auditChainCoverage = z.object({
  mode: z.enum(['full', 'incremental']),
  after_checkpoint: z.number().int().nullable(),
  after_row: z.number().int().nullable(),
  rows: z.number().int(),
  head_row: z.number().int().nullable(),
});
export type AuditChainCoverage = z.infer<typeof auditChainCoverage>;

export const verificationCheck = z.object({
  name: z.string(),
  status: z.enum(['passed', 'failed', 'inconclusive', 'error']),
  detail: z.string(),
  /** Only on the audit-chain check (runs stored before it existed have none). */
  coverage: auditChainCoverage.optional(),
});
export type VerificationCheck = z.infer<typeof verificationCheck>;

export const verificationRunRow = z.object({
  id: z.number(),
  job_id: z.string().nullable(),
  release: z.string(),
  migration_head: z.string(),
  actor: z.string(),
  started_at: z.string(),
  finished_at: z.string(),
  passed: z.boolean(),
  checks: z.array(verificationCheck),
});
export type VerificationRun = z.infer<typeof verificationRunRow>;

/** The outcome of one executed governance job, stored with the job so that a redelivery returns it unchanged. */
export const changeResult = z.object({
  outcome: z.enum(['applied', 'unchanged', 'rejected']),
  action: z.enum(GOVERNANCE_ACTION_VALUES),
  auditId: z.number(),
  before: stateSnapshot,
  after: stateSnapshot,
  unmet: z.array(z.string()),
  /** When the BullMQ job was created (ms): tells a redelivery from a new job that reuses the id. */
  jobCreatedAt: z.number().optional(),
  /** Why a rejected change was rejected: its preconditions (the default), an engage or disable after it (SUPERSEDED) or its age (EXPIRED). */
  rejectedAs: z.enum(CHANGE_REJECTED_CODES).optional(),
});
export type ChangeResult = z.infer<typeof changeResult>;

/** A worker's heartbeat row: Render has no health check for background workers, so each worker writes one. */
export const heartbeatRow = z.object({
  worker_id: z.string(),
  release: z.string(),
  pid: z.number(),
  hostname: z.string(),
  started_at: z.string(),
  last_seen_at: z.string(),
});
export type WorkerHeartbeat = z.infer<typeof heartbeatRow>;

/** The newest run whose audit-chain check read every row: its id, when it ended and that check. */
export const fullAuditCheckRow = z.object({ run_id: z.number(), finished_at: z.string(), check: verificationCheck });
export type FullAuditCheck = z.infer<typeof fullAuditCheckRow>;
