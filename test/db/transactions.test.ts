import { describe, expect, it } from 'vitest';
import {
  DatabaseConflictError,
  RetryableDatabaseError,
  isRetryableDatabaseError,
  runInTransaction,
  sql,
  sqlstateOf,
} from '../../packages/core/src/index.js';
import { useTestDatabase } from '../helpers/database.js';

const database = useTestDatabase({ poolSize: 3 });

const count = async () =>
  database.current.pool.oneFirst(sql.unsafe`SELECT count(*)::int FROM public.governance_executed_jobs`) as Promise<number>;

describe('runInTransaction', () => {
  it('commits on success', async () => {
    await runInTransaction(database.current.pool, async (tx) => {
      await tx.query(sql.unsafe`UPDATE public.system_metadata SET notes = 'committed' WHERE id = 1`);
    });
    expect(await database.current.pool.oneFirst(sql.unsafe`SELECT notes FROM public.system_metadata WHERE id = 1`)).toBe('committed');
  });

  it('rolls back everything on error and rethrows the error unchanged', async () => {
    const boom = new Error('boom');
    await expect(
      runInTransaction(database.current.pool, async (tx) => {
        await tx.query(sql.unsafe`UPDATE public.system_metadata SET notes = 'rolled back' WHERE id = 1`);
        throw boom;
      }),
    ).rejects.toBe(boom);
    expect(await database.current.pool.oneFirst(sql.unsafe`SELECT notes FROM public.system_metadata WHERE id = 1`)).not.toBe('rolled back');
  });

  it('never leaves the pool poisoned: after a failed SQL statement 100 transactions all succeed', async () => {
    const pool = database.current.pool;
    const before = await count();
    await expect(
      runInTransaction(pool, async (tx) => {
        await tx.query(sql.unsafe`SELECT 1/0`);
      }),
    ).rejects.toThrow();
    await expect(
      runInTransaction(pool, async (tx) => {
        await tx.query(sql.unsafe`INSERT INTO public.governance_executed_jobs (job_id, queue, job_name, outcome, result) VALUES ('p', 'q', 'n', 'applied', '{}')`);
        throw new Error('after a write');
      }),
    ).rejects.toThrow('after a write');

    const results = await Promise.all(
      Array.from({ length: 100 }, (_, i) =>
        runInTransaction(pool, async (tx) => {
          await tx.query(sql.unsafe`INSERT INTO public.governance_executed_jobs (job_id, queue, job_name, outcome, result) VALUES (${`ok-${i}`}, 'q', 'n', 'applied', '{}')`);
          return i;
        }),
      ),
    );
    expect(results).toHaveLength(100);
    expect(await count()).toBe(before + 100);
    const state = pool.state();
    expect(state.acquiredConnections).toBe(0);
    expect(state.state).toBe('ACTIVE');
  });

  it('maps a unique violation to DatabaseConflictError', async () => {
    const insert = () =>
      runInTransaction(database.current.pool, async (tx) => {
        await tx.query(sql.unsafe`INSERT INTO public.governance_executed_jobs (job_id, queue, job_name, outcome, result) VALUES ('dup', 'q', 'n', 'applied', '{}')`);
      });
    await insert();
    const error = await insert().catch((e: unknown) => e);
    expect(error).toBeInstanceOf(DatabaseConflictError);
    expect((error as DatabaseConflictError).code).toBe('DATABASE_CONFLICT');
  });

  it('re-runs the callback on a serialization failure and then succeeds', async () => {
    let calls = 0;
    const result = await runInTransaction(database.current.pool, async (tx) => {
      calls += 1;
      if (calls === 1) await tx.query(sql.unsafe`DO $$ BEGIN RAISE EXCEPTION 'conflict' USING ERRCODE = '40001'; END $$`);
      return 'done';
    });
    expect(result).toBe('done');
    expect(calls).toBe(2);
  });

  it('gives up after the retry limit with a RetryableDatabaseError', async () => {
    let calls = 0;
    const error = await runInTransaction(
      database.current.pool,
      async (tx) => {
        calls += 1;
        await tx.query(sql.unsafe`DO $$ BEGIN RAISE EXCEPTION 'deadlock' USING ERRCODE = '40P01'; END $$`);
      },
      { retryLimit: 2 },
    ).catch((e: unknown) => e);
    expect(calls).toBe(3);
    expect(error).toBeInstanceOf(RetryableDatabaseError);
    expect(sqlstateOf(error)).toBe('40P01');
  });

  it('classifies a terminated backend as retryable', async () => {
    const error = await database.current.pool
      .connect(async (connection) => {
        await connection.query(sql.unsafe`SELECT pg_terminate_backend(pg_backend_pid())`);
      })
      .catch((e: unknown) => e);
    expect(isRetryableDatabaseError(error)).toBe(true);
    expect(await database.current.pool.oneFirst(sql.unsafe`SELECT 1`)).toBe(1);
  });
});

describe('a connection returned to the pool', () => {
  it('carries no session setting and no session advisory lock to its next user', async () => {
    const pool = database.current.pool;
    const pids = new Set<number>();
    // Three connections in the pool: taking each of them until one repeats proves the reset ran on a reused one.
    for (let i = 0; i < 6; i += 1) {
      await pool.connect(async (connection) => {
        pids.add((await connection.oneFirst(sql.unsafe`SELECT pg_backend_pid()`)) as number);
        expect(await connection.oneFirst(sql.unsafe`SELECT current_setting('lock_timeout')`)).toBe('0');
        expect(await connection.oneFirst(sql.unsafe`SELECT count(*)::int FROM pg_locks WHERE locktype = 'advisory' AND pid = pg_backend_pid()`)).toBe(0);
        await connection.query(sql.unsafe`SET lock_timeout = '1234ms'`);
        await connection.query(sql.unsafe`SELECT pg_advisory_lock(424242)`);
      });
    }
    expect(pids.size).toBeLessThan(6);
  });
});
