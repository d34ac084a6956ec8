import { sql, type CommonQueryMethods } from 'slonik';
import { z } from 'zod';

const executedJob = z.object({ queue: z.string(), job_name: z.string(), result: z.unknown() });
export type ExecutedJob = { queue: string; jobName: string; result: unknown };

/**
 * The stored execution of a job by its id, from PostgreSQL: a governance change's executed-job record, or a
 * verification run. What GET /api/jobs/:id answers once the job has left Redis (removeOnComplete, data loss).
 */
export const findExecutedJob = async (db: CommonQueryMethods, jobId: string): Promise<ExecutedJob | null> => {
  const row = await db.maybeOne(sql.type(executedJob)`
    SELECT queue, job_name, result FROM public.governance_executed_jobs WHERE job_id = ${jobId}
    UNION ALL
    SELECT 'verification', 'migration-verify', jsonb_build_object('runId', id, 'passed', passed, 'checks', checks)
    FROM public.verification_runs WHERE job_id = ${jobId}
    LIMIT 1
  `);
  return row === null ? null : { queue: row.queue, jobName: row.job_name, result: row.result };
};
