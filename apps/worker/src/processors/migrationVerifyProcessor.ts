import {
  JOB_NAMES,
  QUEUES,
  findLatestVerificationRun,
  insertVerificationRun,
  type AuditKeyring,
  type DatabasePool,
  type Logger,
  type VerificationCheck,
} from '@valhalla/core';
import type { Migrator } from '@valhalla/core/migrator';
import { UnrecoverableError, type Job } from 'bullmq';
import type { Redis } from 'ioredis';
import type { ApiHealthOptions } from '../verification/checkApiHealth.js';
import { runVerificationChecks, type RunOutcome } from '../verification/runVerificationChecks.js';
import { parsePayloadOrFail, unrecoverableUnknownJob } from './invalidPayload.js';
import type { ProcessorResult } from './withJobLogging.js';

export type MigrationVerifyResult = { runId: number; passed: boolean; outcome: RunOutcome; checks: VerificationCheck[] };

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
  redis?: Redis | undefined;
  liveWorkerWithinMs?: number;
  runbookToken?: string | undefined;
  /** Called once per drift (see Drift); its failure fails the attempt, which BullMQ retries. */
  onDrift?: ((drift: Drift, log: Logger) => Promise<void>) | undefined;
};

/**
 * The `migration-verify` processor: run the checks and store the run once per job id (a redelivered job finds its
 * stored run). A failed verification completes the job: `passed: false` is a result, not an error. A scheduled run
 * (the watchdog's job scheduler) that fails right after a passed run of the same head is a drift.
 * @throws UnrecoverableError `INVALID_PAYLOAD: ...`; database errors unchanged (retried by BullMQ).
 */
export const createMigrationVerifyProcessor =
  (deps: MigrationVerifyProcessorDeps) =>
  async (job: Job, log: Logger): Promise<ProcessorResult<MigrationVerifyResult>> => {
    if (job.name !== JOB_NAMES.migrationVerify) throw unrecoverableUnknownJob(QUEUES.verification, job.name);
    if (job.id === undefined) throw new UnrecoverableError('INVALID_PAYLOAD: job has no id');
    const payload = parsePayloadOrFail(JOB_NAMES.migrationVerify, job.data);
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
    const run = await insertVerificationRun(deps.pool, {
      jobId: job.id,
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
