import { sql, type CommonQueryMethods } from 'slonik';
import { AUDIT_CHAIN_CHECK } from '../audit/runAuditChainChecks.js';
import { fullAuditCheckRow, verificationRunRow, type FullAuditCheck, type VerificationCheck, type VerificationRun } from '@valhalla/contract';

const RUN_COLUMNS = sql.fragment`id, job_id, release, migration_head, actor, started_at, finished_at, passed, checks`;

/** Stores a finished run. A job id already stored returns the stored run (a redelivered verify job records once). */
export const insertVerificationRun = async (
  db: CommonQueryMethods,
  run: {
    jobId: string | null;
    release: string;
    migrationHead: string;
    actor: string;
    startedAt: Date;
    finishedAt: Date;
    passed: boolean;
    checks: readonly VerificationCheck[];
  },
): Promise<VerificationRun> => {
  const inserted = await db.maybeOne(sql.type(verificationRunRow)`
    INSERT INTO public.verification_runs (job_id, release, migration_head, actor, started_at, finished_at, passed, checks)
    VALUES (${run.jobId}, ${run.release}, ${run.migrationHead}, ${run.actor},
            ${run.startedAt.toISOString()}, ${run.finishedAt.toISOString()}, ${run.passed}, ${sql.jsonb([...run.checks])})
    ON CONFLICT (job_id) DO NOTHING
    RETURNING ${RUN_COLUMNS}
  `);
  if (inserted !== null) return inserted;
  return db.one(sql.type(verificationRunRow)`SELECT ${RUN_COLUMNS} FROM public.verification_runs WHERE job_id = ${run.jobId}`);
};

/** The latest run for a migration head (any head when omitted), or null. */
export const findLatestVerificationRun = async (
  db: CommonQueryMethods,
  migrationHead?: string,
): Promise<VerificationRun | null> =>
  db.maybeOne(sql.type(verificationRunRow)`
    SELECT ${RUN_COLUMNS} FROM public.verification_runs
    ${migrationHead === undefined ? sql.fragment`` : sql.fragment`WHERE migration_head = ${migrationHead}`}
    ORDER BY id DESC LIMIT 1
  `);

export const listVerificationRuns = async (db: CommonQueryMethods, limit: number): Promise<VerificationRun[]> => [
  ...(await db.any(sql.type(verificationRunRow)`
    SELECT ${RUN_COLUMNS} FROM public.verification_runs ORDER BY id DESC LIMIT ${limit}
  `)),
];


/**
 * The newest verification run whose audit-chain check read every row (startup and on-demand runs; the scheduled
 * ones are incremental), with that check; null when none is recorded. Runs are found newest first, so this stops at
 * the first full one however many incremental runs came after it.
 */
export const findLatestFullAuditCheck = async (db: CommonQueryMethods): Promise<FullAuditCheck | null> =>
  db.maybeOne(sql.type(fullAuditCheckRow)`
    SELECT r.id AS run_id, r.finished_at, c.value AS check
    FROM public.verification_runs r
    CROSS JOIN LATERAL jsonb_array_elements(r.checks) AS c(value)
    WHERE c.value->>'name' = ${AUDIT_CHAIN_CHECK} AND c.value->'coverage'->>'mode' = 'full'
    ORDER BY r.id DESC
    LIMIT 1
  `);
