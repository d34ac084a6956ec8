/**
 * Glossary: the nouns of the product, defined once.
 *
 * - go-live: the flag (`go_live_state.go_live_enabled`) an operator turns on when the backend may take traffic.
 * - kill switch: the override (`go_live_state.kill_switch_engaged`) that takes the backend out of service whatever
 *   the go-live flag says. Engaged on a fresh install.
 * - live: `go_live_enabled AND NOT kill_switch_engaged`; derived, never stored.
 * - system metadata: row 1 of `system_metadata`: the backend's version, whether it is complete, notes.
 * - change: one governance action (see GOVERNANCE_ACTIONS) requested by an actor with a reason, executed once by the
 *   worker as a `go-live-change` job. Its outcome is applied, unchanged (already in that state) or rejected (a
 *   precondition did not hold).
 * - audit entry: one append-only row of the audit log, in one hash chain. A *change* entry (outcome applied,
 *   unchanged or rejected; before, after, actor, reason, job id) is written in the change's own transaction and
 *   replaying them gives the state; an *event* entry records anything else (change requests, approvals, queue
 *   pauses, repairs, drift, writes made outside the product). The application signs each entry with an HMAC key from
 *   AUDIT_HMAC_KEYS (its id is stored); rows written inside the database are hashed unkeyed and anchored by the next
 *   signed row.
 * - revision: one folder of migrations/ (up, down, verify SQL), linked to its previous revision; the head is the
 *   last one in the chain.
 * - verification run: a post-deploy `migration-verify` job's stored result: release, migration head, per-check
 *   results and overall `passed`. go-live enable requires a passed run for the current head.
 * - actor: who asked for a change, taken from the operator's token, never from a request body.
 */
import { z } from 'zod';

export const GOVERNANCE_ACTIONS = {
  goLiveEnable: 'go_live.enable',
  goLiveDisable: 'go_live.disable',
  killSwitchEngage: 'kill_switch.engage',
  killSwitchRelease: 'kill_switch.release',
  metadataUpdate: 'metadata.update',
} as const;
export type GovernanceAction = (typeof GOVERNANCE_ACTIONS)[keyof typeof GOVERNANCE_ACTIONS];
export const GOVERNANCE_ACTION_VALUES = Object.values(GOVERNANCE_ACTIONS) as [GovernanceAction, ...GovernanceAction[]];

export const CHANGE_OUTCOMES = { applied: 'applied', unchanged: 'unchanged', rejected: 'rejected' } as const;
export type ChangeOutcome = (typeof CHANGE_OUTCOMES)[keyof typeof CHANGE_OUTCOMES];

/** The conditions go-live enable requires; a rejection names the unmet ones with these strings. */
export const GO_LIVE_PRECONDITIONS = {
  killSwitchReleased: 'kill_switch_released',
  backendComplete: 'backend_complete',
  verificationPassed: 'verification_passed',
  /** With APPROVALS_REQUIRED > 1: the enable or release belongs to an approved change request. */
  approval: 'approval',
} as const;
export type GoLivePrecondition = (typeof GO_LIVE_PRECONDITIONS)[keyof typeof GO_LIVE_PRECONDITIONS];

/**
 * The condition a superseded release or enable did not meet: it was created before the latest kill-switch engage or
 * go-live disable that was applied (or found the state already safe). Named in the rejection's `unmet`; the job fails
 * with the code SUPERSEDED, final.
 */
export const SUPERSESSION_CONDITION = 'not_superseded' as const;

/**
 * A check's result (Argo Rollouts' AnalysisRun model): `passed`; `failed` (measured, and wrong past its failure
 * limit); `inconclusive` (could not be measured: a probe that never answered). `error` is what runs stored before
 * inconclusive existed; it reads as inconclusive.
 */
export const CHECK_STATUSES = { passed: 'passed', failed: 'failed', inconclusive: 'inconclusive', error: 'error' } as const;
export type CheckStatus = (typeof CHECK_STATUSES)[keyof typeof CHECK_STATUSES];

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

/** What a metadata.update sets (validated by the job contract's payload schema, contract/payloads.ts). */
export type MetadataChange = { version?: string | undefined; backend_complete?: boolean | undefined; notes?: string | undefined };

/** Change entries replay to the state; event entries record everything else (see AUDIT_KINDS). */
export const AUDIT_KINDS = { change: 'change', event: 'event' } as const;
export type AuditKind = (typeof AUDIT_KINDS)[keyof typeof AUDIT_KINDS];

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
  rejectedAs: z.enum(['PRECONDITION_FAILED', 'SUPERSEDED', 'EXPIRED', 'ENQUEUE_UNCONFIRMED']).optional(),
});
export type ChangeResult = z.infer<typeof changeResult>;
