import { findLatestVerificationRun, recordVerificationRun, type AuditKeyring, type DatabasePool, type Logger, type RedisClient } from '@valhalla/core';
import { JOB_NAMES, QUEUES, changeIdentity, type MigrationVerifyResult, type VerificationCheck } from '@valhalla/contract';
import type { Migrator } from '@valhalla/core/migrator';
import type { Job } from 'bullmq';
import type { ApiHealthOptions } from '../verification/checkApiHealth.js';
import { runVerificationChecks } from '../verification/runVerificationChecks.js';
import { parsePayloadOrFail, unrecoverableUnknownJob } from './invalidPayload.js';
import { finalFailureOf } from './jobFailures.js';
import type { ProcessorResult } from './withJobLogging.js';

export type { MigrationVerifyResult };

/** A scheduled run failed after a passed one: the schema or the platform changed under a running release. */
export type Drift = { runId: number; previousRunId: number; failed: VerificationCheck[] };

export type MigrationVerifyProcessorDeps = {
  pool: DatabasePool;
  migrator: Migrator;
  migrationHead: string;
  /** The release recorded when the payload names none (this worker's RELEASE). */
  release: string;
  apiUrl: string | undefined;
  apiHealth?: ApiHealthOptions;
  auditKeyring: AuditKeyring;
  redis?: RedisClient | undefined;
  liveWorkerWithinMs?: number;
  runbookToken?: string | undefined;
  /** Called once per drift (see Drift); its failure fails the attempt, which is retried. */
  onDrift?: ((drift: Drift, log: Logger) => Promise<void>) | undefined;
  /** CHANGE_MAX_AGE_SECONDS: a verification still not run this long after it was due is not run any more. */
  changeMaxAgeSeconds: number;
};

/**
 * The `migration-verify` processor: run the checks and store the run once per job id (a redelivered job finds its
 * stored run). A failed verification completes the job: `passed: false` is a result, not an error. A scheduled run
 * (the watchdog's job scheduler) that fails right after a passed run of the same head is a drift.
 * @throws UnrecoverableError carrying an INVALID_PAYLOAD or EXPIRED record; database errors unchanged (transient
 *   ones are retried by withTransientRetry).
 */
export const createMigrationVerifyProcessor =
  (deps: MigrationVerifyProcessorDeps) =>
  async (job: Job, log: Logger): Promise<ProcessorResult<MigrationVerifyResult>> => {
    if (job.name !== JOB_NAMES.migrationVerify) throw unrecoverableUnknownJob(QUEUES.verification, job.name);
    if (job.id === undefined) throw finalFailureOf('INVALID_PAYLOAD', 'job has no id');
    const payload = parsePayloadOrFail(JOB_NAMES.migrationVerify, job);
    // Measured from when the job was due: a watchdog run is created one interval before it is due (opts.delay), and a
    // transient retry's delay (job.delay) must not extend the age.
    if (Date.now() > job.timestamp + (job.opts.delay ?? 0) + deps.changeMaxAgeSeconds * 1000) {
      // A verification that waited out an outage longer than this would describe a state nobody asked about.
      throw finalFailureOf('EXPIRED', 'the verification was not run within CHANGE_MAX_AGE_SECONDS of being asked for; ask again');
    }
    const release = payload.release ?? deps.release;

    const previous = await findLatestVerificationRun(deps.pool, deps.migrationHead);
    const startedAt = new Date();
    const { passed, outcome, checks } = await runVerificationChecks({
      db: deps.pool,
      migrator: deps.migrator,
      apiUrl: deps.apiUrl,
      auditKeyring: deps.auditKeyring,
      auditCheck: payload.auditCheck,
      ...(deps.apiHealth === undefined ? {} : { apiHealth: deps.apiHealth }),
      redis: deps.redis,
      release,
      migrationHead: deps.migrationHead,
      ...(deps.liveWorkerWithinMs === undefined ? {} : { liveWorkerWithinMs: deps.liveWorkerWithinMs }),
      runbookToken: deps.runbookToken,
    });
    const run = await recordVerificationRun(deps.pool, deps.auditKeyring, {
      // A counter id restarts when Redis loses its data: keyed with the creation time, as a change is.
      jobId: changeIdentity(job.id, job.timestamp),
      release,
      migrationHead: deps.migrationHead,
      actor: payload.actor,
      startedAt,
      finishedAt: new Date(),
      passed,
      checks,
    });
    const failed = run.checks.filter((c) => c.status === 'failed');
    if (!run.passed) log.warn({ runId: run.id, outcome, notPassed: run.checks.filter((c) => c.status !== 'passed').map((c) => c.name) }, 'verification did not pass');
    const scheduled = job.repeatJobKey !== undefined;
    if (scheduled && previous !== null && previous.id !== run.id && previous.passed && failed.length > 0 && deps.onDrift !== undefined) {
      await deps.onDrift({ runId: run.id, previousRunId: previous.id, failed }, log);
    }
    return { value: { runId: run.id, passed: run.passed, outcome, checks: run.checks }, outcome };
  };
