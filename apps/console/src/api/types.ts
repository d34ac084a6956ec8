/**
 * What the console reads from the api (README.md: "HTTP API", "Live state for applications", "Four-eyes change requests"). Only the fields the
 * screens use; the api validates its own answers, so these are descriptions, not checks.
 */

/** The roles (README.md, "Roles and sessions") that can sign in to the console. */
export type Role = 'operator' | 'reader' | 'app' | 'alerts';

export type Session = { actor: string; role: Role; csrfToken: string | null };

/** GET /api/governance/live, and each `state` event of the stream. */
export type LiveState = {
  live: boolean;
  go_live_enabled: boolean;
  kill_switch_engaged: boolean;
  backend_complete: boolean;
  version: number | null;
  changed_by: string | null;
  reason: string | null;
  updated_at: string | null;
};

type GoLiveStateRow = {
  go_live_enabled: boolean;
  kill_switch_engaged: boolean;
  changed_by: string | null;
  reason: string | null;
  updated_at: string | null;
};

type SystemMetadataRow = {
  version: string;
  backend_complete: boolean;
  notes: string | null;
  updated_at: string | null;
  completed_at: string | null;
};

/** What an audit-chain check covered (only on that check; older runs have none). */
export type AuditChainCoverage = {
  mode: 'full' | 'incremental';
  after_checkpoint: number | null;
  after_row: number | null;
  rows: number;
  head_row: number | null;
};

export type VerificationCheck = { name: string; status: 'passed' | 'failed' | 'inconclusive' | 'error'; detail: string; coverage?: AuditChainCoverage };

export type VerificationRun = {
  id: number;
  job_id: string | null;
  release: string;
  migration_head: string;
  actor: string;
  started_at: string;
  finished_at: string;
  passed: boolean;
  checks: VerificationCheck[];
};

type WorkerHeartbeat = { worker_id: string; release: string; pid: number; hostname: string; started_at: string; last_seen_at: string };

export type RunbookStatus = {
  system_metadata: SystemMetadataRow | null;
  go_live_state: GoLiveStateRow | null;
  live: boolean;
  migrations: { head: string; applied: string[]; pending: string[] };
  last_verification: VerificationRun | null;
  /** The newest run whose audit-chain check read every row (absent on an older api). */
  last_full_audit_check?: { run_id: number; finished_at: string; check: VerificationCheck } | null;
  workers: { alive: number; items: WorkerHeartbeat[] };
};

export type StateSnapshot = { go_live_enabled: boolean; kill_switch_engaged: boolean; live: boolean; version: string; backend_complete: boolean; notes: string | null };

/** A change entry (outcome, state before/after) or an event entry (outcome null, e.g. change_request.approved). */
export type AuditEntry = {
  id: number;
  kind?: 'change' | 'event';
  job_id: string | null;
  action: string;
  outcome: 'applied' | 'unchanged' | 'rejected' | null;
  actor: string;
  reason: string;
  before: Partial<StateSnapshot> | null;
  after: Partial<StateSnapshot> | null;
  unmet_conditions?: string[];
  details?: Record<string, unknown>;
  created_at: string;
  hash?: string;
};

export type AuditPage = { items: AuditEntry[]; next: string | null };

type QueueCounts = { waiting: number; active: number; delayed: number; failed: number };
export type FailedJob = {
  id: string;
  queue: string;
  name: string;
  attempts: number;
  failed_at: string | null;
  error: { code: string; message: string; final: boolean };
};
export type QueuesOverview = { queues: ({ name: string } & QueueCounts)[]; failed: FailedJob[] };

export type ChangeRequest = {
  id: string;
  action: string;
  requested_by: string;
  reason: string;
  approvals: { approver: string; reason: string; approved_at: string }[];
  required: number;
  status: string;
  created_at?: string;
  expires_at: string;
  jobId?: string | null;
};

export type Accepted =
  | { jobId: string; status: 'queued' | 'completed'; result?: unknown }
  | { changeRequestId: string; status: 'pending_approval' };

export type JobView = {
  id: string;
  queue: string;
  name: string;
  state: 'waiting' | 'delayed' | 'active' | 'completed' | 'failed';
  attempts: number;
  result: unknown;
  error: { code: string; message: string } | null;
};

/** GET /api/notifications/subscriptions: a subscription and its delivery status (never its secret). */
export type NotificationSubscription = {
  id: string;
  kind: 'webhook' | 'slack';
  target: string;
  description: string | null;
  filter: { kinds?: string[]; actions?: string[]; outcomes?: string[] };
  enabled: boolean;
  created_by: string;
  created_at: string;
  status: {
    state: 'active' | 'paused' | 'dead_lettered';
    circuit: 'closed' | 'open' | 'half_open';
    backlog: number;
    oldest_pending_at: string | null;
    last_success_at: string | null;
    last_error: { code: string; message: string; http_status: number | null; at: string } | null;
    consecutive_failures: number;
    next_attempt_at: string | null;
    dead_lettered_at: string | null;
    dead_letter_reason: string | null;
  };
};
