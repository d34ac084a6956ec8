import pg from 'pg';
import { describe, expect, it } from 'vitest';
import { QUEUES } from '../../packages/contract/src/index.js';
import { waitFor } from '../helpers/waitFor.js';
import { auditCount, currentSnapshot, startWorkerProcess, useWorkerFixture, waitForJob, workerEnv } from './support/workerHarness.js';

const fixture = useWorkerFixture('stall-limit');

describe('a change whose workers are SIGKILLed again and again', () => {
  it('is never failed by BullMQ stall limit: it stalls more often than WORKER_MAX_STALLED_COUNT, then applies once', async () => {
    const { database, prefix, producer } = fixture.current;
    const before = await currentSnapshot(database.pool);
    // Hold row 1's lock, so the change blocks inside its transaction and stays active until its worker is killed.
    const blocker = new pg.Client({ connectionString: database.url });
    await blocker.connect();
    await blocker.query('BEGIN');
    await blocker.query('SELECT 1 FROM public.go_live_state WHERE id = 1 FOR UPDATE');
    const env = workerEnv(database, prefix, { WORKER_MAX_STALLED_COUNT: '1', WORKER_CONCURRENCY: '1' });
    const jobId = await producer.change({ action: 'kill_switch.release', actor: 'ops', reason: 'through crashes' });
    const queue = producer.queues.byName[QUEUES.governance];
    try {
      const kills = 3;
      for (let round = 1; round <= kills; round += 1) {
        const worker = await startWorkerProcess(env, `worker ${round}`);
        // Active in this worker: the stall counter of the job's hash counts the earlier kills.
        await waitFor(async () => (await queue.getJobState(jobId)) === 'active' && Number(await producer.redis.hget(queue.toKey(jobId), 'stc') ?? 0) === round - 1, {
          timeoutMs: 20_000,
          intervalMs: 100,
          description: `round ${round}: the job active again`,
        });
        await worker.stop('SIGKILL');
      }
      expect(await queue.getJobState(jobId)).toBe('active');
      await blocker.query('ROLLBACK');
      const last = await startWorkerProcess(env, 'worker after the crashes');
      try {
        const outcome = await waitForJob(producer, jobId, 30_000);
        expect(outcome.state, JSON.stringify(outcome.failure)).toBe('completed');
        expect(Number(await producer.redis.hget(queue.toKey(jobId), 'stc'))).toBeGreaterThan(1);
      } finally {
        await last.stop();
      }
      expect(await auditCount(database.pool)).toBe(1);
      expect(await currentSnapshot(database.pool)).toEqual({ ...before, kill_switch_engaged: false, live: before.go_live_enabled });
    } finally {
      await blocker.end();
    }
  }, 120_000);
});
