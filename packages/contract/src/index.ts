/**
 * The contract every process imports (api, worker, CLI, console, client, other producers): nothing here imports
 * code of ours. Explicit export list: what is not named here is not part of the contract.
 */
export {
  APPROVAL_ACTIONS,
  AUDIT_KINDS,
  CHANGE_OUTCOMES,
  CHANGE_REQUEST_STATUSES,
  CHANGE_REQUEST_STATUS_VALUES,
  CHECK_STATUSES,
  GO_LIVE_PRECONDITIONS,
  GOVERNANCE_ACTIONS,
  GOVERNANCE_ACTION_VALUES,
  SUPERSESSION_CONDITION,
  isSafetyAction,
  type ApprovalAction,
  type AuditKind,
  type ChangeOutcome,
  type ChangeRequestStatus,
  type CheckStatus,
  type GoLivePrecondition,
  type GovernanceAction,
  type MetadataChange,
} from './vocabulary.js';
export { freeText, lineText } from './storableText.js';
export {
  actorField,
  goLiveChangePayload,
  metadataChangeField,
  metadataFields,
  migrationVerifyPayload,
  reasonField,
  releaseField,
  type GoLiveChangePayload,
  type MigrationVerifyPayload,
} from './payloads.js';
export {
  auditChainCoverage,
  auditEntryRow,
  changeResult,
  fullAuditCheckRow,
  goLiveStateRow,
  heartbeatRow,
  stateSnapshot,
  systemMetadataRow,
  verificationCheck,
  verificationRunRow,
  type AuditChainCoverage,
  type AuditEntry,
  type ChangeResult,
  type FullAuditCheck,
  type GoLiveStateRow,
  type StateSnapshot,
  type SystemMetadataRow,
  type VerificationCheck,
  type VerificationRun,
  type WorkerHeartbeat,
} from './stateSchemas.js';
export {
  GOVERNANCE_CHANGE_QUEUES,
  JOBS_BY_QUEUE,
  JOB_CATALOG,
  JOB_NAMES,
  PRIORITIES,
  QUEUES,
  changeIdentity,
  migrationVerifyResult,
  queueForJob,
  startupVerificationJobId,
  type JobName,
  type JobOptions,
  type JobPayloads,
  type MigrationVerifyResult,
  type QueueName,
} from './jobCatalog.js';
export { ERROR_CODES, isErrorCode, type ErrorCode } from './errorCodes.js';
export { OFREP_ERROR_CODES, type OfrepErrorCode } from './ofrepErrorCodes.js';
export { CHANGE_REJECTED_CODES, JOB_FAILURE_CODES, isRejection, type ChangeRejectedCode, type JobFailureCode } from './failureCodes.js';
export { decodeJobFailure, encodeJobFailure, jobFailure, jobFailureOf, unrecordedJobFailure, type JobFailure } from './jobFailure.js';
export { changeRejectionFailure } from './changeRejection.js';
export { transientRetryDelayMs, type TransientRetrySchedule } from './retryPolicy.js';
export { MAX_JOB_DATA_BYTES, MAX_JOB_RESULT_BYTES } from './limits.js';
export {
  JOB_STATES,
  SESSION_ROLES,
  auditPageResponse,
  changeRequestAccepted,
  changeRequestResponse,
  errorBody,
  errorDetail,
  healthResponse,
  jobAccepted,
  jobCompleted,
  jobResponse,
  liveStateBody,
  queuesResponse,
  runbookStatusResponse,
  sessionResponse,
  verificationsResponse,
  type AuditPage,
  type ChangeRequestAccepted,
  type ErrorBody,
  type JobAccepted,
  type JobBody,
  type JobCompleted,
  type LiveStateBody,
  type PublicChangeRequest,
  type QueuesOverview,
  type RunbookStatus,
  type SessionBody,
  type SessionRole,
  type VerificationsPage,
} from './httpResponses.js';
