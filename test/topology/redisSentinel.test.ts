import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { sql } from '../../packages/core/src/index.js';
import { startApiProcess } from '../api/processes.js';
import { useTestDatabase } from '../helpers/database.js';
import { uniqueQueuePrefix } from '../helpers/redis.js';
import { SENTINEL_MASTER_NAME, startSentinelGroup, type OwnSentinelGroup } from '../helpers/redisSentinel.js';
import { waitFor } from '../helpers/waitFor.js';
import { startWorkerProcess, workerEnv } from '../worker/support/workerHarness.js';
import { changeRequest, expectEachExecutedOnce, getJson, openAcceptances, postJson, type Answer } from './support.js';

const database = useTestDatabase({ poolSize: 2 });
let group: OwnSentinelGroup;

beforeAll(async () => {
  group = await startSentinelGroup();
});
afterAll(async () => {
  await group.stop();
});

const executed = async (jobId: string): Promise<boolean> =>
  (await database.current.pool.maybeOne(sql.unsafe`SELECT 1 FROM public.governance_audit_log WHERE job_id = ${jobId} AND kind = 'change'`)) !== null;

describe('Redis Sentinel (a primary, a replica and three sentinels started by the test)', () => {
  it('a worker resumes after the primary freezes, after SENTINEL FAILOVER and after a SIGKILL of the primary, without a restart; every accepted change is executed once', async () => {
    const pool = database.current.pool;
    const prefix = uniqueQueuePrefix('sentinel');
    const redisEnv = { REDIS_URL: '', REDIS_SENTINELS: group.sentinelsEnv, REDIS_SENTINEL_MASTER: SENTINEL_MASTER_NAME, QUEUE_PREFIX: prefix, DATABASE_POOL_SIZE: '3' };
    const api = await startApiProcess({ databaseUrl: database.current.url, redisUrl: '', prefix, extra: { ...redisEnv, RATE_LIMIT_PER_MINUTE: '1000000' } });
    // The reconciler looks often: a job the replica never received (SIGKILL) is enqueued again within about a second.
    const worker = await startWorkerProcess(workerEnv(database.current, prefix, { ...redisEnv, RECONCILE_INTERVAL_MS: '200', RECONCILE_GRACE_MS: '1000' }));
    const accepted: string[] = [];
    const refused: number[] = [];
    let streaming = true;
    // A stream of changes through the api for the whole test, one at a time.
    const stream = (async () => {
      for (let i = 0; streaming; i += 1) {
        const { path, body } = changeRequest(i, 'sentinel');
        const answer = await postJson(api.url, path, body).catch((): Answer => ({ status: 0, body: {} }));
        if (answer.status === 200 || answer.status === 202) accepted.push(String(answer.body.jobId));
        else refused.push(answer.status);
      }
    })();
    try {
      expect((await getJson(api.url, '/health', {})).body).toMatchObject({ status: 'ok', checks: { redis: 'ok' } });
      // A frozen primary (its connections open and silent) is the case ioredis's failover detector is for: without it a
      // worker stays blocked on the old primary and stops processing while looking alive.
      for (const how of ['freeze', 'sentinel-failover', 'kill'] as const) {
        const before = accepted.length;
        await waitFor(() => accepted.length >= before + 20, { timeoutMs: 30_000, description: `changes flowing before the ${how}` });
        await group.failOver(how);
        // Processing resumes on the new primary: a change accepted after the promotion is executed by the same worker.
        const after = await postJson(api.url, '/api/governance/system-metadata', { notes: `after ${how}`, reason: `after the ${how}` });
        expect(after.status).toBe(202);
        accepted.push(String(after.body.jobId));
        await waitFor(() => executed(String(after.body.jobId)), { timeoutMs: 30_000, intervalMs: 100, description: `a change accepted after the ${how} to be executed` });
      }
      streaming = false;
      await stream;
      // Every 2xx executed exactly once, jobs the new primary never had included (the reconciler enqueued them again);
      // nothing else was executed, so no refused request was applied either.
      await expectEachExecutedOnce(pool, accepted, 90_000);
      await waitFor(async () => (await openAcceptances(pool)) === 0, { timeoutMs: 30_000, description: 'every acceptance settled' });
      expect(refused.filter((status) => status !== 503)).toEqual([]);
      expect(worker.child.exitCode).toBeNull();
      expect(worker.output()).not.toMatch(/worker failed to start|"msg":"worker stopped"/);
      expect((await getJson(api.url, '/health', {})).body).toMatchObject({ status: 'ok', checks: { database: 'ok', redis: 'ok' } });
    } finally {
      streaming = false;
      await stream;
      await worker.stop('SIGTERM', 20_000);
      await api.process.stop('SIGTERM', 20_000);
    }
  }, 240_000);
});
