import { sql, type CommonQueryMethods, type DatabasePool } from 'slonik';
import { z } from 'zod';
import { PREPARED_STATEMENTS } from '../../db/preparedStatements.js';
import { runInTransaction } from '../../db/runInTransaction.js';
import { claimIdempotencyKey, type IdempotencyRecord } from './idempotencyKeys.js';

/**
 * The acceptance record (migration 20260301_acceptance_record): every change and verification the api accepts is
 * written here before the api answers 2xx, so that it outlives the loss of Redis. Redis carries the work; this table,
 * with the executed-job records and verification runs that settle its rows, is the record.
 */

/** What is accepted: the job as it is (or will be) enqueued. */
export type AcceptedJob = {
  jobId: string;
  queue: string;
  jobName: string;
  /** The job data, as validated by the job contract. */
  payload: Record<string, unknown>;
  actor: string;
};

/** An Idempotency-Key claimed together with the acceptance. */
export type KeyClaim = { key: string; requestHash: string; route: string };

export type AcceptanceOutcome =
  /** Recorded now: its acceptance number and creation time (ms, the database's clock). */
  | { kind: 'accepted'; seq: number; createdMs: number }
  /**
   * The key was claimed before: the record that holds it (the caller compares request hashes), the result of its job
   * when it executed (else null), and whether that job's acceptance is recorded.
   */
  | { kind: 'replayed'; record: IdempotencyRecord; executedResult: unknown; accepted: boolean };

const acceptedRow = z.object({ claimed: z.boolean(), seq: z.number().nullable(), created_ms: z.number().nullable() });

/**
 * The number and creation time of a job id accepted before, when an insert found it there (a producer's own id
 * repeated): the first record stands.
 */
const firstAcceptance = async (db: CommonQueryMethods, jobId: string): Promise<{ seq: number; createdMs: number }> => {
  const existing = await findAcceptance(db, jobId);
  if (existing === null) throw new Error(`job ${jobId} was neither accepted now nor before`);
  return { seq: existing.seq, createdMs: existing.createdMs };
};

/**
 * Records the acceptance of a job, claiming its Idempotency-Key in the same statement when there is one (one round
 * trip, one commit: a key is never claimed without its job being accepted, nor the reverse). A key claimed before is
 * a replay: nothing is written and the holder is returned. Safe to repeat with the same job id: the first record stays.
 * The creation time is the database's clock, and the number comes from the one sequence every acceptance uses.
 */
export const acceptJob = async (db: CommonQueryMethods, job: AcceptedJob, claim?: KeyClaim): Promise<AcceptanceOutcome> => {
  const keyed = claim !== undefined;
  const row = await db.one(sql.type(acceptedRow)`
    WITH claim AS (
      INSERT INTO public.idempotency_keys (actor, idempotency_key, request_hash, route, queue, job_id)
      SELECT ${job.actor}, ${claim?.key ?? ''}, ${claim?.requestHash ?? ''}, ${claim?.route ?? ''}, ${job.queue}, ${job.jobId}
      WHERE ${keyed}
      ON CONFLICT (actor, idempotency_key) DO NOTHING
      RETURNING job_id
    ),
    accepted AS (
      INSERT INTO public.governance_accepted_jobs (seq, job_id, queue, job_name, payload, actor, idempotency_key, created_ms)
      SELECT nextval('public.governance_acceptance_seq'), ${job.jobId}, ${job.queue}, ${job.jobName}, ${sql.jsonb(job.payload as never)},
             ${job.actor}, ${claim?.key ?? null}, (extract(epoch FROM clock_timestamp()) * 1000)::bigint
      WHERE NOT ${keyed} OR EXISTS (SELECT 1 FROM claim)
      ON CONFLICT (job_id) DO NOTHING
      RETURNING seq, created_ms
    )
    SELECT EXISTS (SELECT 1 FROM claim) OR NOT ${keyed} AS claimed,
           (SELECT seq FROM accepted) AS seq, (SELECT created_ms FROM accepted) AS created_ms
  `);
  if (row.claimed) {
    if (row.seq === null || row.created_ms === null) return { kind: 'accepted', ...(await firstAcceptance(db, job.jobId)) };
    return { kind: 'accepted', seq: row.seq, createdMs: row.created_ms };
  }
  const { record, executedResult } = await claimIdempotencyKey(db, {
    actor: job.actor,
    key: claim?.key ?? '',
    requestHash: claim?.requestHash ?? '',
    route: claim?.route ?? '',
    queue: job.queue,
    jobId: job.jobId,
  });
  const accepted = (await findAcceptance(db, record.job_id)) !== null;
  return { kind: 'replayed', record, executedResult, accepted };
};

const acceptedRows = z.object({ job_id: z.string(), seq: z.number(), created_ms: z.number() });

/**
 * Records the acceptance of several jobs without an Idempotency-Key in one statement (one round trip, one commit):
 * the api's group commit of requests that arrived together. The jobs are concurrent requests, so the order in which
 * they take their numbers among themselves is no promise to anyone. Safe to repeat with the same job ids: the first
 * record of each stays.
 * @returns each job's acceptance number and creation time, by job id.
 */
export const acceptJobs = async (db: CommonQueryMethods, jobs: readonly AcceptedJob[]): Promise<Map<string, { seq: number; createdMs: number }>> => {
  const rows = await db.any(sql.prepared(PREPARED_STATEMENTS.acceptJobs, acceptedRows)`
    INSERT INTO public.governance_accepted_jobs (seq, job_id, queue, job_name, payload, actor, created_ms)
    SELECT nextval('public.governance_acceptance_seq'), j.job_id, j.queue, j.job_name, j.payload, j.actor,
           (extract(epoch FROM clock_timestamp()) * 1000)::bigint
    FROM jsonb_to_recordset(${sql.jsonb(jobs.map((job) => ({ job_id: job.jobId, queue: job.queue, job_name: job.jobName, payload: job.payload, actor: job.actor })) as never)})
      AS j(job_id TEXT, queue TEXT, job_name TEXT, payload JSONB, actor TEXT)
    ON CONFLICT (job_id) DO NOTHING
    RETURNING job_id, seq, created_ms
  `);
  const recorded = new Map(rows.map((row) => [row.job_id, { seq: row.seq, createdMs: row.created_ms }]));
  for (const job of jobs) if (!recorded.has(job.jobId)) recorded.set(job.jobId, await firstAcceptance(db, job.jobId));
  return recorded;
};

const acceptance = z.object({
  seq: z.number(),
  job_id: z.string(),
  queue: z.string(),
  job_name: z.string(),
  payload: z.record(z.string(), z.unknown()),
  actor: z.string(),
  created_ms: z.number(),
  accepted_at: z.string(),
  settled_at: z.string().nullable(),
  settled_as: z.string().nullable(),
  voided_at: z.string().nullable(),
});

export type Acceptance = {
  seq: number;
  jobId: string;
  queue: string;
  jobName: string;
  payload: Record<string, unknown>;
  actor: string;
  createdMs: number;
  acceptedAt: string;
  settledAt: string | null;
  settledAs: string | null;
  voidedAt: string | null;
};

const toAcceptance = (row: z.infer<typeof acceptance>): Acceptance => ({
  seq: row.seq,
  jobId: row.job_id,
  queue: row.queue,
  jobName: row.job_name,
  payload: row.payload,
  actor: row.actor,
  createdMs: row.created_ms,
  acceptedAt: row.accepted_at,
  settledAt: row.settled_at,
  settledAs: row.settled_as,
  voidedAt: row.voided_at,
});

const ACCEPTANCE_COLUMNS = sql.fragment`seq, job_id, queue, job_name, payload, actor, created_ms, accepted_at, settled_at, settled_as, voided_at`;

/** The acceptance record of a job id, or null when the api never accepted it. */
export const findAcceptance = async (db: CommonQueryMethods, jobId: string): Promise<Acceptance | null> => {
  const row = await db.maybeOne(sql.type(acceptance)`
    SELECT ${ACCEPTANCE_COLUMNS} FROM public.governance_accepted_jobs WHERE job_id = ${jobId}
  `);
  return row === null ? null : toAcceptance(row);
};

/**
 * Records the acceptance of an approved change request's job (in the approval's transaction): its number is the one
 * the request took when it was made, and so is its creation time: a four-eyes change stands in the order where it
 * was requested, and an engage made while it waited for approval supersedes it.
 */
export const acceptApprovedChange = async (
  tx: CommonQueryMethods,
  job: AcceptedJob & { changeRequestId: string },
): Promise<void> => {
  await tx.query(sql.unsafe`
    INSERT INTO public.governance_accepted_jobs (seq, job_id, queue, job_name, payload, actor, created_ms)
    SELECT COALESCE(c.acceptance_seq, nextval('public.governance_acceptance_seq')), ${job.jobId}, ${job.queue}, ${job.jobName},
           ${sql.jsonb(job.payload as never)}, ${job.actor}, (extract(epoch FROM c.created_at) * 1000)::bigint
    FROM public.change_requests c WHERE c.id = ${job.changeRequestId}
    ON CONFLICT DO NOTHING
  `);
};

const voided = z.object({ voided: z.boolean() });

/**
 * The api could not learn whether the acceptance of `job` committed (the connection broke during the statement), and
 * is about to answer 503: the job must then never run. Marks it void, recording it first if it was not, under the
 * row-1 lock every change executes under, so that no batch decides it between this check and the mark (a batch holds
 * that lock from its read of the acceptance to its commit). A void record is never enqueued by the reconciler, and a
 * worker that gets the job anyway rejects it (ENQUEUE_UNCONFIRMED).
 * @returns 'voided', or 'settled' when the job already executed (the caller answers with its result instead).
 */
export const voidAcceptance = async (pool: DatabasePool, job: AcceptedJob): Promise<'voided' | 'settled'> =>
  runInTransaction(pool, async (tx) => {
    await tx.query(sql.unsafe`SELECT 1 FROM public.go_live_state WHERE id = 1 FOR UPDATE`);
    const row = await tx.maybeOne(sql.type(voided)`
      INSERT INTO public.governance_accepted_jobs (seq, job_id, queue, job_name, payload, actor, created_ms, voided_at)
      VALUES (nextval('public.governance_acceptance_seq'), ${job.jobId}, ${job.queue}, ${job.jobName}, ${sql.jsonb(job.payload as never)},
              ${job.actor}, (extract(epoch FROM clock_timestamp()) * 1000)::bigint, clock_timestamp())
      ON CONFLICT (job_id) DO UPDATE SET voided_at = clock_timestamp()
      WHERE public.governance_accepted_jobs.settled_at IS NULL
      RETURNING true AS voided
    `);
    return row === null ? 'settled' : 'voided';
  });

/**
 * Settles the acceptance of a job that failed for good without an execution record (an unexpected failure after its
 * attempts): the reconciler must not enqueue it again. Executions settle their acceptance themselves (a trigger).
 */
export const settleFailedAcceptance = async (db: CommonQueryMethods, jobId: string, code: string): Promise<void> => {
  await db.query(sql.unsafe`
    UPDATE public.governance_accepted_jobs SET settled_at = clock_timestamp(), settled_as = ${`failed:${code}`}
    WHERE job_id = ${jobId} AND settled_at IS NULL
  `);
};

/**
 * Accepted jobs that are neither settled nor void, accepted more than `graceMs` ago and not enqueued again within the
 * last `graceMs`: what the reconciler checks against Redis. Oldest first (after `afterSeq`, for the next page), at most
 * `limit`.
 */
export const findOpenAcceptances = async (
  db: CommonQueryMethods,
  options: { graceMs: number; limit: number; afterSeq?: number | undefined },
): Promise<Acceptance[]> => {
  const rows = await db.any(sql.type(acceptance)`
    SELECT ${ACCEPTANCE_COLUMNS} FROM public.governance_accepted_jobs
    WHERE settled_at IS NULL AND voided_at IS NULL AND seq > ${options.afterSeq ?? 0}
      AND accepted_at < clock_timestamp() - make_interval(secs => ${options.graceMs / 1000})
      AND (last_enqueued_at IS NULL OR last_enqueued_at < clock_timestamp() - make_interval(secs => ${options.graceMs / 1000}))
    ORDER BY seq
    LIMIT ${options.limit}
  `);
  return rows.map(toAcceptance);
};

/** Notes that the reconciler enqueued these jobs again (they wait out another grace before the next check). */
export const markReenqueued = async (db: CommonQueryMethods, jobIds: readonly string[]): Promise<void> => {
  if (jobIds.length === 0) return;
  await db.query(sql.unsafe`
    UPDATE public.governance_accepted_jobs SET enqueue_count = enqueue_count + 1, last_enqueued_at = clock_timestamp()
    WHERE job_id = ANY(${sql.array(jobIds, 'text')})
  `);
};

const oldest = z.object({ age_seconds: z.number().nullable(), open: z.number() });

/** The age (s) of the oldest accepted job that is neither settled nor void (null when none), and how many are open. */
export const readOpenAcceptanceAge = async (db: CommonQueryMethods): Promise<{ oldestAgeSeconds: number | null; open: number }> => {
  const row = await db.one(sql.type(oldest)`
    SELECT extract(epoch FROM clock_timestamp() - min(accepted_at))::float8 AS age_seconds, count(*)::int AS open
    FROM public.governance_accepted_jobs WHERE settled_at IS NULL AND voided_at IS NULL
  `);
  return { oldestAgeSeconds: row.age_seconds, open: row.open };
};

/**
 * Takes the reconciler's turn for this interval: true for one caller per `intervalMs` across every worker of the
 * cluster (the row's time is moved only when it is that old), false for the others.
 */
export const takeReconcilerTurn = async (db: CommonQueryMethods, workerId: string, intervalMs: number): Promise<boolean> => {
  const row = await db.maybeOne(sql.type(z.object({ id: z.number() }))`
    INSERT INTO public.governance_reconciler_turns AS t (id, ran_at, ran_by) VALUES (1, clock_timestamp(), ${workerId})
    ON CONFLICT (id) DO UPDATE SET ran_at = excluded.ran_at, ran_by = excluded.ran_by
    WHERE t.ran_at <= clock_timestamp() - make_interval(secs => ${intervalMs / 1000}) + interval '10 milliseconds'
    RETURNING id
  `);
  return row !== null;
};
