import { sql, type CommonQueryMethods } from 'slonik';
import { z } from 'zod';
import { changeResult, type ChangeResult } from '../model.js';

const context = z.object({ executed: changeResult.nullable(), verification_passed: z.boolean().nullable() });

/**
 * What a change needs to know once it holds the row lock, in one round trip: the stored result if this job id
 * already committed, and whether the latest verification of the migration head passed. Must run after the lock
 * statement: READ COMMITTED gives this statement a snapshot taken after the lock was granted, so it sees a commit of
 * a concurrent delivery of the same job.
 */
export const readChangeContext = async (
  tx: CommonQueryMethods,
  input: { jobId: string; migrationHead: string },
): Promise<{ executed: ChangeResult | null; verificationPassed: boolean }> => {
  const row = await tx.one(sql.type(context)`
    SELECT
      (SELECT result FROM public.governance_executed_jobs WHERE job_id = ${input.jobId}) AS executed,
      (SELECT passed FROM public.verification_runs WHERE migration_head = ${input.migrationHead}
       ORDER BY id DESC LIMIT 1) AS verification_passed
  `);
  return { executed: row.executed, verificationPassed: row.verification_passed ?? false };
};
