import { sql, type CommonQueryMethods } from 'slonik';
import { z } from 'zod';
import { changeResult, type ChangeResult } from '../model.js';

const executedJob = z.object({ result: changeResult });

/** The stored result of a governance job that already committed, or null. */
export const findExecutedJob = async (tx: CommonQueryMethods, jobId: string): Promise<ChangeResult | null> => {
  const row = await tx.maybeOne(sql.type(executedJob)`
    SELECT result FROM public.governance_executed_jobs WHERE job_id = ${jobId}
  `);
  return row?.result ?? null;
};

/**
 * Records a governance job as executed, in the transaction of its change. The primary key makes a second commit
 * of the same job id impossible even if two deliveries race.
 */
export const recordExecutedJob = async (
  tx: CommonQueryMethods,
  job: { jobId: string; queue: string; jobName: string; result: ChangeResult },
): Promise<void> => {
  await tx.query(sql.unsafe`
    INSERT INTO public.governance_executed_jobs (job_id, queue, job_name, outcome, result)
    VALUES (${job.jobId}, ${job.queue}, ${job.jobName}, ${job.result.outcome}, ${sql.jsonb(job.result)})
  `);
};
