import { createAuditKeyring, parseAuditKeys, verifyAuditChain, type DatabasePool } from '../../../packages/core/src/index.js';
import { checkResult, type CheckResult } from './checkResult.js';

/** The audit hash chain verifies, every row from the first (`full` mode), with the keys the product signed with. */
export const checkAuditChain = async (pool: DatabasePool, auditKeys: string): Promise<CheckResult> => {
  const { keys, problems } = parseAuditKeys(auditKeys, { minKeyLength: 1 });
  if (problems.length > 0) throw new Error(`the run's audit keys do not parse: ${problems.join('; ')}`);
  const report = await verifyAuditChain(pool, createAuditKeyring(keys), { mode: 'full' });
  return checkResult('audit-chain-verifies', 'the audit chain verifies in full', report.checkedRows, report.intact ? [] : [report.problem ?? `broken at row ${report.firstBadId}`]);
};
