import { Queue } from 'bullmq';
import { describe, expect, it } from 'vitest';
import { listAuditEntriesInOrder } from '../../packages/core/src/index.js';
import { JOB_NAMES, QUEUES, type ChangeResult } from '../../packages/contract/src/index.js';
import { useTestDatabase } from '../helpers/database.js';
import { startOwnRedis } from '../helpers/redisServer.js';
import { waitFor } from '../helpers/waitFor.js';
import { currentSnapshot, startInProcessWorker } from '../worker/support/workerHarness.js';
import { bearer, startApi } from './support.js';

const database = useTestDatabase({ poolSize: 6 });

type Api = Awaited<ReturnType<typeof startApi>>;

const killSwitch = (api: Api, engaged: boolean, reason: string, key?: string) =>
  api.app.inject({
    method: 'POST',
    url: '/api/governance/kill-switch',
    payload: { engaged, reason },
    headers: { ...bearer(), ...(key === undefined ? {} : { 'idempotency-key': key }) },
  });

const getJob = (api: Api, id: string) => api.app.inject({ method: 'GET', url: `/api/jobs/${id}`, headers: bearer() });

const waitCompleted = (api: Api, id: string) =>
  waitFor(async () => {
    const job = (await getJob(api, id)).json();
    return job.state === 'completed' ? job : job.state === 'failed' ? Promise.reject(new Error(JSON.stringify(job))) : false;
  }, { timeoutMs: 15_000, description: `job ${id} to complete` });

const auditOf = async (jobId: string) => (await listAuditEntriesInOrder(database.current.pool)).filter((entry) => entry.job_id === jobId);

/**
 * The sequence of the issue: release with key K; the job leaves Redis; someone engages; the client retries its
 * release with K. The retry must answer the original job's result and never release again.
 */
const replaySequence = async (api: Api, key: string, loseTheJob: () => Promise<void>) => {
  const first = await killSwitch(api, false, 'release for the deploy', key);
  expect(first.statusCode).toBe(202);
  const jobId: string = first.json().jobId;
  await waitCompleted(api, jobId);
  expect((await currentSnapshot(database.current.pool)).kill_switch_engaged).toBe(false);

  await loseTheJob();
  const engage = await killSwitch(api, true, 'incident');
  await waitCompleted(api, engage.json().jobId);
  expect((await currentSnapshot(database.current.pool)).kill_switch_engaged).toBe(true);

  const retried = await killSwitch(api, false, 'release for the deploy', key);
  expect(retried.statusCode).toBe(200);
  expect(retried.headers['idempotent-replayed']).toBe('true');
  expect(retried.json()).toMatchObject({ jobId, status: 'completed', result: { action: 'kill_switch.release', outcome: 'applied' } });
  // Nothing was enqueued, nothing applied again.
  expect(await api.queues.findJob(jobId)).toBeUndefined();
  expect((await currentSnapshot(database.current.pool)).kill_switch_engaged).toBe(true);
  expect(await auditOf(jobId)).toHaveLength(1);
  // The job has left Redis: GET /api/jobs/:id answers from PostgreSQL.
  expect((await getJob(api, jobId)).json()).toMatchObject({ id: jobId, queue: 'governance', state: 'completed', error: null, result: { action: 'kill_switch.release' } });
  return jobId;
};

describe('an Idempotency-Key retry after the job left Redis', () => {
  it('answers 200 with the original result from PostgreSQL and never re-applies the change (job removed)', async () => {
    const api = await startApi(database.current);
    const worker = await startInProcessWorker(database.current, api.prefix);
    try {
      await replaySequence(api, 'replay-removed', async () => {
        const queue = api.queues.byName[QUEUES.governance];
        for (const job of await queue.getCompleted(0, -1)) await job.remove();
      });
    } finally {
      await worker.close();
      await api.close();
    }
  });

  it('GET /api/jobs/:id of a rejected change that left Redis answers failed with its final record, from PostgreSQL', async () => {
    const api = await startApi(database.current);
    const worker = await startInProcessWorker(database.current, api.prefix);
    try {
      const enable = await api.app.inject({ method: 'POST', url: '/api/governance/go-live', payload: { enabled: true, reason: 'too early' }, headers: bearer() });
      const jobId: string = enable.json().jobId;
      await waitFor(async () => (await getJob(api, jobId)).json().state === 'failed', { timeoutMs: 15_000, description: 'the enable to be rejected' });
      for (const job of await api.queues.byName[QUEUES.governance].getFailed(0, -1)) await job.remove();
      expect(await api.queues.findJob(jobId)).toBeUndefined();
      expect((await getJob(api, jobId)).json()).toMatchObject({
        id: jobId,
        state: 'failed',
        result: { outcome: 'rejected' },
        error: { code: 'PRECONDITION_FAILED', final: true, message: expect.stringContaining('backend_complete') },
      });
    } finally {
      await worker.close();
      await api.close();
    }
  });

  it('answers 200 with the original result when Redis restarted empty, and a job re-added under a producer id is the same change', async () => {
    const redis = await startOwnRedis();
    const api = await startApi(database.current, { redisUrl: () => redis.url });
    const worker = await startInProcessWorker(database.current, api.prefix, { env: { REDIS_URL: redis.url } });
    try {
      const jobId = await replaySequence(api, 'replay-redis-lost', async () => {
        await redis.kill();
        await redis.restart();
        // Wait until the api's producer connection is back.
        await waitFor(async () => (await api.app.inject({ method: 'GET', url: '/health' })).json().checks.redis === 'ok', { timeoutMs: 15_000, description: 'redis back' });
      });
      // Another producer re-adds the job under its original id (new creation time): the worker recognises the change
      // by its id and answers the stored result, without a second audit entry.
      const plain = new Queue(QUEUES.governance, { connection: { url: redis.url }, prefix: api.prefix });
      try {
        await plain.add(JOB_NAMES.goLiveChange, { action: 'kill_switch.release', actor: 'alice', reason: 'release for the deploy' }, { jobId, priority: 10 });
        const again = await waitCompleted(api, jobId);
        expect((again.result as ChangeResult).action).toBe('kill_switch.release');
      } finally {
        await plain.close();
      }
      expect(await auditOf(jobId)).toHaveLength(1);
      expect((await currentSnapshot(database.current.pool)).kill_switch_engaged).toBe(true);
    } finally {
      await worker.close();
      await api.close();
      await redis.stop();
    }
  });

  it('re-enqueues under the original id when the job was lost before it executed, and applies it once', async () => {
    const redis = await startOwnRedis();
    const api = await startApi(database.current, { redisUrl: () => redis.url });
    try {
      const first = await killSwitch(api, false, 'release before the worker is up', 'lost-before-run');
      expect(first.statusCode).toBe(202);
      const jobId: string = first.json().jobId;
      await redis.kill();
      await redis.restart();
      await waitFor(async () => (await api.app.inject({ method: 'GET', url: '/health' })).json().checks.redis === 'ok', { timeoutMs: 15_000, description: 'redis back' });
      expect(await api.queues.findJob(jobId)).toBeUndefined();

      const retried = await killSwitch(api, false, 'release before the worker is up', 'lost-before-run');
      expect(retried.statusCode).toBe(202);
      expect(retried.json()).toEqual({ jobId, status: 'queued' });
      const worker = await startInProcessWorker(database.current, api.prefix, { env: { REDIS_URL: redis.url } });
      try {
        await waitCompleted(api, jobId);
      } finally {
        await worker.close();
      }
      expect(await auditOf(jobId)).toHaveLength(1);
      const third = await killSwitch(api, false, 'release before the worker is up', 'lost-before-run');
      expect(third.statusCode).toBe(200);
      expect(third.json()).toMatchObject({ jobId, status: 'completed' });
    } finally {
      await api.close();
      await redis.stop();
    }
  });
});
