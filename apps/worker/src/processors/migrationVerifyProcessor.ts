import {
  JOB_NAMES,
  QUEUES,
  insertVerificationRun,
  type AuditKeyring,
  type DatabasePool,
  type Logger,
  type VerificationCheck,
} from '@valhalla/core';
import type { Migrator } from '@valhalla/core/migrator';
import { UnrecoverableError, type Job } from 'bullmq';
import type { ApiHealthOptions } from '../verification/checkApiHealth.js';
import { runVerificationChecks } from '../verification/runVerificationChecks.js';
import { parsePayloadOrFail, unrecoverableUnknownJob } from './invalidPayload.js';
import type { ProcessorResult } from './withJobLogging.js';

export type MigrationVerifyResult = { runId: number; passed: boolean; checks: VerificationCheck[] };

export type MigrationVerifyProcessorDeps = {
  pool: DatabasePool;
  migrator: Migrator;
  migrationHead: string;
  /** The release recorded when the payload names none (this worker's RELEASE). */
  release: string;
  apiUrl: string | undefined;
  apiHealth?: ApiHealthOptions;
  auditKeyring: AuditKeyring;
};

/**
 * The `migration-verify` processor: run the checks and store the run once per job id (a redelivered job finds its
 * stored run). A failed verification completes the job: `passed: false` is a result, not an error.
 * @throws UnrecoverableError `INVALID_PAYLOAD: ...`; database errors unchanged (retried by BullMQ).
 */
export const createMigrationVerifyProcessor =
  (deps: MigrationVerifyProcessorDeps) =>
  async (job: Job, log: Logger): Promise<ProcessorResult<MigrationVerifyResult>> => {
    if (job.name !== JOB_NAMES.migrationVerify) throw unrecoverableUnknownJob(QUEUES.verification, job.name);
    if (job.id === undefined) throw new UnrecoverableError('INVALID_PAYLOAD: job has no id');
    const payload = parsePayloadOrFail(JOB_NAMES.migrationVerify, job.data);

    const startedAt = new Date();
    const { passed, checks } = await runVerificationChecks({
      db: deps.pool,
      migrator: deps.migrator,
      apiUrl: deps.apiUrl,
      auditKeyring: deps.auditKeyring,
      auditCheck: payload.auditCheck,
      ...(deps.apiHealth === undefined ? {} : { apiHealth: deps.apiHealth }),
    });
    const run = await insertVerificationRun(deps.pool, {
      jobId: job.id,
      release: payload.release ?? deps.release,
      migrationHead: deps.migrationHead,
      actor: payload.actor,
      startedAt,
      finishedAt: new Date(),
      passed,
      checks,
    });
    if (!run.passed) {
      log.warn({ runId: run.id, failed: run.checks.filter((c) => c.status !== 'passed').map((c) => c.name) }, 'verification failed');
    }
    return { value: { runId: run.id, passed: run.passed, checks: run.checks }, outcome: run.passed ? 'passed' : 'failed' };
  };
