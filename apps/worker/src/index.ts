/** What other code (benchmarks, tests) may reuse from the worker. main.ts is the entrypoint and is not exported. */
export { createWorkerApp, WORKER_READY_MESSAGE, type WorkerApp, type WorkerAppOptions } from './assembly/createWorkerApp.js';
export { STARTUP_VERIFICATION_ACTOR } from './assembly/requestStartupVerification.js';
export { createWorkerDependencies, type WorkerDependencies } from './workerDependencies.js';
export { createGoLiveChangeProcessor, type GoLiveChangeProcessorDeps } from './processors/goLiveChangeProcessor.js';
export {
  createMigrationVerifyProcessor,
  type MigrationVerifyProcessorDeps,
  type MigrationVerifyResult,
} from './processors/migrationVerifyProcessor.js';
export { withJobLogging, type LoggedProcessor, type ProcessorResult } from './processors/withJobLogging.js';
export { runVerificationChecks, type VerificationInputs } from './verification/runVerificationChecks.js';
export { checkApiHealth, API_HEALTH_CHECK, type ApiHealthOptions } from './verification/checkApiHealth.js';
export { checkAuditChain, AUDIT_CHAIN_CHECK } from './verification/checkAuditChain.js';
export { checkMigrations } from './verification/checkMigrations.js';
export { checkSeedRows, SEED_ROWS_CHECK } from './verification/checkSeedRows.js';
export { startHeartbeat, type Heartbeat } from './startHeartbeat.js';
export { createFaultInjection, withFaultInjection, type FaultInjection } from './faultInjection.js';
export { createChangeBatcher, type BatchApplier, type ChangeBatcher } from './processors/changeBatcher.js';
export { DEFAULT_WORKER_TUNING, type WorkerTuning } from './workerTuning.js';
export { createWorkerMetrics, ATTEMPT_OUTCOMES, type AttemptOutcome, type WorkerMetrics } from './metrics/createWorkerMetrics.js';
export { startMetricsServer, METRICS_LISTENING_MESSAGE, type MetricsServer } from './metrics/startMetricsServer.js';
export { withJobMetrics } from './processors/withJobMetrics.js';
export type { CheckPolicy, Measurement } from './verification/measureCheck.js';
export { checkRedisEvictionPolicy, REDIS_EVICTION_CHECK } from './verification/checkRedisEvictionPolicy.js';
export { checkLiveWorker, LIVE_WORKER_CHECK } from './verification/checkLiveWorker.js';
export { checkReleaseSkew, RELEASE_SKEW_CHECK } from './verification/checkReleaseSkew.js';
export { checkRunbookStatus, RUNBOOK_STATUS_CHECK } from './verification/checkRunbookStatus.js';
export type { RunOutcome } from './verification/runVerificationChecks.js';
export { WATCHDOG_SCHEDULER_ID, WATCHDOG_ACTOR } from './startVerificationWatchdog.js';
export { DRIFT_ACTIONS, type DriftAction } from './createDriftHandler.js';
export type { Drift } from './processors/migrationVerifyProcessor.js';
