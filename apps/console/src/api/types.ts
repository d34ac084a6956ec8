/**
 * What the console reads from the api: the contract's response types (type-only imports: nothing of the schemas is
 * bundled), under the names the screens use.
 */
import type {
  AuditPage as ContractAuditPage,
  ChangeRequestAccepted,
  JobAccepted,
  JobBody,
  JobCompleted,
  LiveStateBody,
  PublicChangeRequest,
  NotificationSubscriptionBody,
  QueuesOverview as ContractQueuesOverview,
  RunbookStatus as ContractRunbookStatus,
  SessionBody,
  SessionRole,
} from '@valhalla/contract';

export type {
  AuditChainCoverage,
  AuditEntry,
  StateSnapshot,
  VerificationCheck,
  VerificationRun,
} from '@valhalla/contract';

/** The roles that can sign in to the console. */
export type Role = SessionRole;
export type Session = SessionBody;

/** GET /api/governance/live, and each `state` event of the stream. */
export type LiveState = LiveStateBody;
export type RunbookStatus = ContractRunbookStatus;
export type AuditPage = ContractAuditPage;
export type QueuesOverview = ContractQueuesOverview;
export type FailedJob = ContractQueuesOverview['failed'][number];
export type ChangeRequest = PublicChangeRequest;
/** What a change or verification request answers: queued, applied in the request, or waiting for approvals. */
export type Accepted = JobAccepted | JobCompleted | ChangeRequestAccepted;
/** GET /api/jobs/:id. */
export type JobView = JobBody;

/** GET /api/notifications/subscriptions: a subscription and its delivery status (never its secret). */
export type NotificationSubscription = NotificationSubscriptionBody;
