import type { AuditKeyring, AuditVerificationMode, CommonQueryMethods, RedisClient } from '@valhalla/core';
import type { VerificationCheck } from '@valhalla/contract';
import type { Migrator } from '@valhalla/core/migrator';
import { apiProbePolicy, checkApiHealth, type ApiHealthOptions } from './checkApiHealth.js';
import { checkAuditChain } from './checkAuditChain.js';
import { checkLiveWorker } from './checkLiveWorker.js';
import { checkMigrations } from './checkMigrations.js';
import { checkRedisEvictionPolicy } from './checkRedisEvictionPolicy.js';
import { checkReleaseSkew } from './checkReleaseSkew.js';
import { checkRunbookStatus } from './checkRunbookStatus.js';
import { checkSeedRows } from './checkSeedRows.js';
import type { CheckPolicy } from './measureCheck.js';

export type VerificationInputs = {
  db: CommonQueryMethods;
  migrator: Migrator;
  /** The API to probe; the health, release and runbook checks are skipped when undefined. */
  apiUrl: string | undefined;
  apiHealth?: ApiHealthOptions;
  /** AUDIT_HMAC_KEYS: verifies the audit chain's keyed hashes and signs the checkpoint. */
  auditKeyring: AuditKeyring;
  /** Full by default (startup and on-demand runs); scheduled runs check only the rows after the last checkpoint. */
  auditCheck?: AuditVerificationMode | undefined;
  /** The worker's Redis (eviction policy); skipped when undefined. */
  redis?: RedisClient | undefined;
  /** The release being verified: a worker of it must be alive, and the api must run it. */
  release?: string | undefined;
  migrationHead?: string | undefined;
  /** A heartbeat newer than this counts as alive (default 3 heartbeat intervals). */
  liveWorkerWithinMs?: number;
  /** Bearer token for the runbook status probe; that check is skipped without it. */
  runbookToken?: string | undefined;
};

/** The overall result of a run: passed (every check), failed (any check failed), else inconclusive. */
export type RunOutcome = 'passed' | 'failed' | 'inconclusive';

const runOutcome = (checks: readonly VerificationCheck[]): RunOutcome =>
  checks.every((check) => check.status === 'passed')
    ? 'passed'
    : checks.some((check) => check.status === 'failed')
      ? 'failed'
      : 'inconclusive';

/** Deterministic reads (Redis INFO, heartbeats): a couple of measurements, no failure tolerated. */
const READ_POLICY: CheckPolicy = { count: 2, intervalMs: 500, failureLimit: 0 };

/**
 * Runs every post-deploy check. A check never throws: one that cannot measure reports `inconclusive` (or `error`,
 * older checks), so the run is stored whatever happens. `passed` only when every check passed.
 */
export const runVerificationChecks = async (
  inputs: VerificationInputs,
): Promise<{ passed: boolean; outcome: RunOutcome; checks: VerificationCheck[] }> => {
  const probe = apiProbePolicy(inputs.apiHealth);
  const optional = <T>(run: boolean, check: () => Promise<T>): Promise<T | undefined> => (run ? check() : Promise.resolve(undefined));
  const { apiUrl, release, migrationHead, redis, runbookToken } = inputs;
  const results = await Promise.all([
    checkMigrations(inputs.migrator),
    checkSeedRows(inputs.db),
    checkAuditChain(inputs.db, inputs.auditKeyring, inputs.auditCheck ?? 'full'),
    optional(apiUrl !== undefined, () => checkApiHealth(apiUrl as string, inputs.apiHealth)),
    optional(redis !== undefined, () => checkRedisEvictionPolicy(redis as RedisClient, READ_POLICY)),
    optional(release !== undefined, () => checkLiveWorker(inputs.db, release as string, inputs.liveWorkerWithinMs ?? 30_000, READ_POLICY)),
    optional(apiUrl !== undefined && release !== undefined, () => checkReleaseSkew(apiUrl as string, release as string, probe)),
    optional(apiUrl !== undefined && runbookToken !== undefined && migrationHead !== undefined, () =>
      checkRunbookStatus(apiUrl as string, runbookToken as string, migrationHead as string, probe),
    ),
  ]);
  const checks = results.flat().filter((check): check is VerificationCheck => check !== undefined);
  const outcome = runOutcome(checks);
  return { passed: outcome === 'passed', outcome, checks };
};
