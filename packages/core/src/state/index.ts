export {
  isLive,
  replayAudit,
  requiresApproval,
} from './rules/rules.js';
export {
  applyGovernanceChange,
  type BatchOptions,
  type GovernanceChangeExecution,
  type GovernanceChangeRequest,
} from './applyGovernanceChange.js';
export {
  applyGovernanceBatch,
  type BatchMemberOutcome,
  EXPIRED_CONDITION,
} from './applyGovernanceBatch.js';
export {
  lockGovernanceRows,
  readGovernanceRows,
  snapshotOf,
} from './queries/governanceState.js';
export {
  listAuditEntries,
  listAuditEntriesInOrder,
} from './queries/auditLog.js';

export {
  commitChanges,
} from './queries/commitChanges.js';
export {
  findLatestFullAuditCheck,
  findLatestVerificationRun,
  insertVerificationRun,
  listVerificationRuns,
} from './queries/verificationRuns.js';
export {
  claimIdempotencyKey,
} from './queries/idempotencyKeys.js';
export {
  type Acceptance,
  type AcceptedJob,
  acceptJob,
  acceptJobs,
  findAcceptance,
  findOpenAcceptances,
  type KeyClaim,
  markReenqueued,
  settleFailedAcceptance,
  takeReconcilerTurn,
  voidAcceptance,
} from './queries/acceptedJobs.js';
export {
  deleteWorkerHeartbeat,
  listLiveWorkers,
  upsertWorkerHeartbeat,
} from './queries/workerHeartbeats.js';
export {
  findMissingSeedRows,
} from './queries/seedRows.js';
export {
  JOB_RETRY_CONDITIONS,
  type JobRetryCondition,
  recordJobRetry,
  recordJobRetryFailure,
} from './recordJobRetry.js';
export {
  appendAuditEvent,
} from './audit/appendAuditEvent.js';

export {
  type ApprovalOutcome,
  approveChangeRequest,
  type ChangeRequest,
  closeChangeRequest,
  type CloseOutcome,
  createChangeRequest,
  listChangeRequests,
} from './changeRequests/index.js';
export {
  createLiveStateListener,
  type FreshLiveState,
  LIVE_STATE_CHANNEL,
  type LiveState,
  type LiveStateListener,
  readLiveState,
} from './live/index.js';
export {
  QUEUE_EVENTS,
  recordQueueEvent,
} from './recordQueueEvent.js';
export { recordVerificationRun } from './recordVerificationRun.js';
export {
  findExecutedJob,
} from './queries/executedJobs.js';
export {
  type AuditKeyring,
  createAuditKeyring,
  DEVELOPMENT_AUDIT_KEY,
  parseAuditKeys,
} from './audit/auditKeyring.js';

export {
  appendAuditEntries,
  type AuditChainHead,
  type AuditEntryInput,
  insertSignedAuditRows,
  readAuditChainHead,
  signAuditEntries,
} from './audit/appendAuditEntries.js';
export {
  recordAuditCheckpoint,
} from './audit/auditCheckpoints.js';
export {
  type AuditVerificationMode,
  verifyAuditChain,
} from './audit/verifyAuditChain.js';
export {
  AUDIT_CHAIN_CHECK,
  OUTSIDE_WRITES_CHECK,
  runAuditChainChecks,
  withAuditChainChecks,
} from './audit/runAuditChainChecks.js';
export { APPROVALS_SETTING_ACTION, readRecordedApprovalsRequired, recordApprovalsRequired } from './approvalsRequiredSetting.js';
