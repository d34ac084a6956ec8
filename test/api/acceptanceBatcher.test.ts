import { randomUUID } from 'node:crypto';
import { describe, expect, it } from 'vitest';
import { createAcceptanceBatcher } from '../../apps/api/src/acceptance/acceptanceBatcher.js';
import { sql, type AcceptedJob } from '../../packages/core/src/index.js';
import { useTestDatabase } from '../helpers/database.js';

const database = useTestDatabase({ perTest: true, poolSize: 4 });

const jobOf = (notes: string): AcceptedJob => ({
  jobId: randomUUID(),
  queue: 'governance',
  jobName: 'go-live-change',
  payload: { action: 'system_metadata.update', actor: 'ops', reason: 'batch', metadata: { notes } },
  actor: 'ops',
});

/** The transactions that wrote the given jobs' acceptance rows: rows written by one statement share its xmin. */
const writers = async (jobIds: readonly string[]) =>
  database.current.pool.oneFirst(sql.unsafe`
    SELECT count(DISTINCT xmin::text)::int FROM public.governance_accepted_jobs WHERE job_id = ANY (${sql.array(jobIds, 'text')})
  `) as Promise<number>;

describe('the acceptance group commit', () => {
  it('writes a lone acceptance at once, and those asked for while it is written together, each with its own number', async () => {
    const batcher = createAcceptanceBatcher(database.current.pool);
    const lone = jobOf('lone');
    const first = await batcher.record(lone);
    const stored = await database.current.pool.one(sql.unsafe`SELECT seq, created_ms FROM public.governance_accepted_jobs WHERE job_id = ${lone.jobId}`);
    expect(stored).toEqual({ seq: first.seq, created_ms: first.createdMs });

    const jobs = Array.from({ length: 40 }, (_, i) => jobOf(`together ${i}`));
    const recorded = await Promise.all(jobs.map((job) => batcher.record(job)));
    expect(new Set(recorded.map((one) => one.seq)).size).toBe(40);
    expect(Math.min(...recorded.map((one) => one.seq))).toBeGreaterThan(first.seq);
    const rows = await database.current.pool.any(sql.unsafe`
      SELECT job_id, seq, created_ms, payload FROM public.governance_accepted_jobs WHERE job_id = ANY (${sql.array(jobs.map((job) => job.jobId), 'text')})
    `);
    expect(rows).toHaveLength(40);
    for (const [i, job] of jobs.entries()) {
      const row = (rows as readonly { job_id: string }[]).find((one) => one.job_id === job.jobId);
      expect(row).toMatchObject({ seq: recorded[i]!.seq, created_ms: recorded[i]!.createdMs, payload: job.payload });
    }
    // The first was written alone; the 39 that waited for it went in one statement (the 40 asked together: at most 2).
    expect(await writers(jobs.map((job) => job.jobId))).toBeLessThanOrEqual(2);
  });

  it('fails only the member PostgreSQL refuses, and records the others of its batch', async () => {
    const batcher = createAcceptanceBatcher(database.current.pool);
    const ahead = jobOf('ahead');
    // A NUL in a JSON string: jsonb refuses it, so the batch statement fails for this row alone.
    const refused = { ...jobOf('refused'), payload: { action: 'system_metadata.update', notes: 'a\u0000b' } };
    const others = [jobOf('other 1'), jobOf('other 2'), jobOf('other 3')];
    const settled = await Promise.allSettled([ahead, refused, ...others].map((job) => batcher.record(job)));
    expect(settled.map((one) => one.status)).toEqual(['fulfilled', 'rejected', 'fulfilled', 'fulfilled', 'fulfilled']);
    const stored = await database.current.pool.anyFirst(sql.unsafe`SELECT job_id FROM public.governance_accepted_jobs`);
    expect([...stored].sort()).toEqual([ahead, ...others].map((job) => job.jobId).sort());
  });

  it('keeps the first record of a job id asked for twice', async () => {
    const batcher = createAcceptanceBatcher(database.current.pool);
    const job = jobOf('twice');
    const [blocker, first, again] = await Promise.all([batcher.record(jobOf('blocker')), batcher.record(job), batcher.record({ ...job, payload: { changed: true } })]);
    expect(blocker.seq).toBeLessThan(first.seq);
    expect(again).toEqual(first);
    expect(await database.current.pool.oneFirst(sql.unsafe`SELECT payload FROM public.governance_accepted_jobs WHERE job_id = ${job.jobId}`)).toEqual(job.payload);
  });
});
