import {
  JOB_NAMES,
  QUEUES,
  changeIdentity,
  insertVerificationRun,
  type AuditKeyring,
  type DatabasePool,
  type Logger,
  type MigrationVerifyResult,
} from '@valhalla/core';
import type { Migrator } from '@valhalla/core/migrator';
import type { Job } from 'bullmq';
import type { ApiHealthOptions } from '../verification/checkApiHealth.js';
import { runVerificationChecks } from '../verification/runVerificationChecks.js';
import { parsePayloadOrFail, unrecoverableUnknownJob } from './invalidPayload.js';
import { finalFailureOf } from './jobFailures.js';
import type { ProcessorResult } from './withJobLogging.js';

export type { MigrationVerifyResult };

export type MigrationVerifyProcessorDeps = {
  pool: DatabasePool;
  migrator: Migrator;
  migrationHead: string;
  /** The release recorded when the payload names none (this worker's RELEASE). */
  release: string;
  apiUrl: string | undefined;
  apiHealth?: ApiHealthOptions;
  auditKeyring: AuditKeyring;
  /** CHANGE_MAX_AGE_SECONDS: a verification still not run this long after it was asked for is not run any more. */
  changeMaxAgeSeconds: number;
};

/**
 * The `migration-verify` processor: run the checks and store the run once per job id (a redelivered job finds its
 * stored run). A failed verification completes the job: `passed: false` is a result, not an error.
 * @throws UnrecoverableError carrying an INVALID_PAYLOAD or EXPIRED record; database errors unchanged (transient
 *   ones are retried by withTransientRetry).
 */
export const createMigrationVerifyProcessor =
  (deps: MigrationVerifyProcessorDeps) =>
  async (job: Job, log: Logger): Promise<ProcessorResult<MigrationVerifyResult>> => {
    if (job.name !== JOB_NAMES.migrationVerify) throw unrecoverableUnknownJob(QUEUES.verification, job.name);
    if (job.id === undefined) throw finalFailureOf('INVALID_PAYLOAD', 'job has no id');
    const payload = parsePayloadOrFail(JOB_NAMES.migrationVerify, job);
    if (Date.now() > job.timestamp + deps.changeMaxAgeSeconds * 1000) {
      // A verification that waited out an outage longer than this would describe a state nobody asked about.
      throw finalFailureOf('EXPIRED', 'the verification was not run within CHANGE_MAX_AGE_SECONDS of being asked for; ask again');
    }

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
      // A counter id restarts when Redis loses its data: keyed with the creation time, as a change is.
      jobId: changeIdentity(job.id, job.timestamp),
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
