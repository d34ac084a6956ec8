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
 *
 * The package holds the contract every process shares (api, worker, CLI, console, client): this vocabulary, the job
 * payload and HTTP response schemas, the job catalog, the failure codes and the queue names. It imports nothing of
 * ours, only zod.
 */
export const GOVERNANCE_ACTIONS = {
  goLiveEnable: 'go_live.enable',
  goLiveDisable: 'go_live.disable',
  killSwitchEngage: 'kill_switch.engage',
  killSwitchRelease: 'kill_switch.release',
  metadataUpdate: 'metadata.update',
} as const;
export type GovernanceAction = (typeof GOVERNANCE_ACTIONS)[keyof typeof GOVERNANCE_ACTIONS];
export const GOVERNANCE_ACTION_VALUES = Object.values(GOVERNANCE_ACTIONS) as [GovernanceAction, ...GovernanceAction[]];

/**
 * Actions that make the system safer: always allowed, applied ahead of queued changes (the safety lane), never
 * expired.
 */
export const isSafetyAction = (action: GovernanceAction): boolean =>
  action === GOVERNANCE_ACTIONS.killSwitchEngage || action === GOVERNANCE_ACTIONS.goLiveDisable;

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

/** What a metadata.update sets (validated by the job payload schema, payloads.ts). */
export type MetadataChange = { version?: string | undefined; backend_complete?: boolean | undefined; notes?: string | undefined };

/** Change entries replay to the state; event entries record everything else (see AUDIT_KINDS). */
export const AUDIT_KINDS = { change: 'change', event: 'event' } as const;
export type AuditKind = (typeof AUDIT_KINDS)[keyof typeof AUDIT_KINDS];


/** Where a four-eyes change request stands (APPROVALS_REQUIRED > 1). */
export const CHANGE_REQUEST_STATUSES = {
  pending: 'pending_approval',
  enqueued: 'enqueued',
  rejected: 'rejected',
  cancelled: 'cancelled',
  expired: 'expired',
  stale: 'stale',
} as const;
export type ChangeRequestStatus = (typeof CHANGE_REQUEST_STATUSES)[keyof typeof CHANGE_REQUEST_STATUSES];
export const CHANGE_REQUEST_STATUS_VALUES = Object.values(CHANGE_REQUEST_STATUSES) as [ChangeRequestStatus, ...ChangeRequestStatus[]];

/** The actions that need approval when APPROVALS_REQUIRED > 1: the ones that make the system less safe. */
export const APPROVAL_ACTIONS = [GOVERNANCE_ACTIONS.goLiveEnable, GOVERNANCE_ACTIONS.killSwitchRelease] as const;
export type ApprovalAction = (typeof APPROVAL_ACTIONS)[number];

