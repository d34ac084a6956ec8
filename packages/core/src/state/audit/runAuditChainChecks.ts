import type { CommonQueryMethods } from 'slonik';
import type { AuditChainCoverage, VerificationCheck } from '@valhalla/contract';
import { recordAuditCheckpoint } from './auditCheckpoints.js';
import { createAuditKeyring, DEVELOPMENT_AUDIT_KEY, type AuditKeyring } from './auditKeyring.js';
import { verifyAuditChain, type AuditChainReport, type AuditVerificationMode } from './verifyAuditChain.js';

export const AUDIT_CHAIN_CHECK = 'audit log hash chain intact';
export const OUTSIDE_WRITES_CHECK = 'no writes outside the product since the last verification';

const describeError = (error: unknown): string => (error instanceof Error ? `${error.name}: ${error.message}` : String(error));

/** What the run covered: a run asked for `incremental` reads every row when there is no checkpoint yet (a full check). */
const coverageOf = (report: AuditChainReport): AuditChainCoverage => ({
  mode: report.fromCheckpoint === null ? 'full' : 'incremental',
  after_checkpoint: report.fromCheckpoint?.id ?? null,
  after_row: report.fromCheckpoint?.headId ?? null,
  rows: report.checkedRows,
  head_row: report.intact ? (report.head?.id ?? null) : null,
});

const chainCheck = (report: AuditChainReport): VerificationCheck => {
  if (!report.intact) return { name: AUDIT_CHAIN_CHECK, status: 'failed', detail: report.problem ?? 'chain broken', coverage: coverageOf(report) };
  const from = report.fromCheckpoint === null ? 'from the first row' : `after checkpoint ${report.fromCheckpoint.id} (row ${report.fromCheckpoint.headId})`;
  const head = report.head === null ? 'the log is empty' : `head row ${report.head.id} hash ${report.head.hash}`;
  return {
    name: AUDIT_CHAIN_CHECK,
    status: 'passed',
    detail: `${report.mode} check: ${report.checkedRows} row(s) ${from} verified, signed and linked; ${head}`,
    coverage: coverageOf(report),
  };
};

const outsideWritesCheck = (report: AuditChainReport): VerificationCheck => {
  if (report.outsideWriteCount === 0) {
    return { name: OUTSIDE_WRITES_CHECK, status: 'passed', detail: 'no UPDATE of go_live_state or system_metadata outside the product' };
  }
  const listed = report.outsideWrites
    .map((write) => `row ${write.id}: ${write.table} by role ${write.databaseRole} (application ${write.applicationName ?? 'unknown'}) at ${write.createdAt}`)
    .join('; ');
  return { name: OUTSIDE_WRITES_CHECK, status: 'failed', detail: `${report.outsideWriteCount} write(s) outside the product: ${listed}` };
};

/**
 * The audit checks of a verification run: the chain (incremental from the last checkpoint, or full) and the writes
 * made outside the product among the rows it checked. When the chain is intact the head is recorded as a new
 * checkpoint, so the next run starts there and notices if the head disappears. Never throws: a check that cannot run
 * reports `error`.
 */
export const runAuditChainChecks = async (
  db: CommonQueryMethods,
  keyring: AuditKeyring,
  options: { mode: AuditVerificationMode },
): Promise<VerificationCheck[]> => {
  try {
    const report = await verifyAuditChain(db, keyring, options);
    if (report.intact && report.head !== null) {
      // Full when every row was read: asked for, or an incremental run that found no checkpoint to start after.
      await recordAuditCheckpoint(db, keyring, { headId: report.head.id, headHash: report.head.hash, fullCheck: report.fromCheckpoint === null });
    }
    return report.intact ? [chainCheck(report), outsideWritesCheck(report)] : [chainCheck(report)];
  } catch (error) {
    return [{ name: AUDIT_CHAIN_CHECK, status: 'error', detail: describeError(error) }];
  }
};

/**
 * For `migrate verify` (an operator's on-demand check): adds the full audit-chain checks to the migrator's result.
 * Without a keyring (tests driving the command directly) the development key verifies.
 */
export const withAuditChainChecks = async (
  result: { passed: boolean; checks: VerificationCheck[] },
  db: CommonQueryMethods,
  auditKeyring: AuditKeyring | undefined,
): Promise<{ passed: boolean; checks: VerificationCheck[] }> => {
  const audit = await runAuditChainChecks(db, auditKeyring ?? createAuditKeyring([DEVELOPMENT_AUDIT_KEY]), { mode: 'full' });
  return { passed: result.passed && audit.every((check) => check.status === 'passed'), checks: [...result.checks, ...audit] };
};
