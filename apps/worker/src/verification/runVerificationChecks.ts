import type { AuditKeyring, AuditVerificationMode, CommonQueryMethods, VerificationCheck } from '@valhalla/core';
import type { Migrator } from '@valhalla/core/migrator';
import { checkApiHealth, type ApiHealthOptions } from './checkApiHealth.js';
import { checkAuditChain } from './checkAuditChain.js';
import { checkMigrations } from './checkMigrations.js';
import { checkSeedRows } from './checkSeedRows.js';

export type VerificationInputs = {
  db: CommonQueryMethods;
  migrator: Migrator;
  /** The API to probe; the health check is skipped when undefined. */
  apiUrl: string | undefined;
  apiHealth?: ApiHealthOptions;
  /** AUDIT_HMAC_KEYS: verifies the audit chain's keyed hashes and signs the checkpoint. */
  auditKeyring: AuditKeyring;
  /** Full by default (startup and on-demand runs); scheduled runs check only the rows after the last checkpoint. */
  auditCheck?: AuditVerificationMode | undefined;
};

/**
 * Runs every post-deploy check. A check never throws: one that cannot run reports `error`, so the run is stored
 * whatever happens. `passed` only when every check passed.
 */
export const runVerificationChecks = async (inputs: VerificationInputs): Promise<{ passed: boolean; checks: VerificationCheck[] }> => {
  const [migrations, seedRows, auditChain, apiHealth] = await Promise.all([
    checkMigrations(inputs.migrator),
    checkSeedRows(inputs.db),
    checkAuditChain(inputs.db, inputs.auditKeyring, inputs.auditCheck ?? 'full'),
    inputs.apiUrl === undefined ? Promise.resolve(undefined) : checkApiHealth(inputs.apiUrl, inputs.apiHealth),
  ]);
  const checks = [...migrations, seedRows, ...auditChain, ...(apiHealth === undefined ? [] : [apiHealth])];
  return { passed: checks.every((check) => check.status === 'passed'), checks };
};
