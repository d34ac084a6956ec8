import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { acceptJob, redisPrimaries, sql } from '../../packages/core/src/index.js';
import { JOB_NAMES, QUEUES, queueForJob } from '../../packages/contract/src/index.js';
import { WATCHDOG_ACTOR, WATCHDOG_SCHEDULER_ID } from '../../apps/worker/src/index.js';
import { startApiProcess } from '../api/processes.js';
import { bearer } from '../api/support.js';
import { useTestDatabase } from '../helpers/database.js';
import { startNodeProcess } from '../helpers/processes.js';
import { startRedisCluster, type OwnRedisCluster } from '../helpers/redisCluster.js';
import { waitFor } from '../helpers/waitFor.js';
import { createProducer, startWorkerProcess, waitForJob, workerEnv } from '../worker/support/workerHarness.js';
import { changeRequest, expectEachExecutedOnce, getJson, hashTaggedPrefix, openAcceptances, postJson } from './support.js';

const database = useTestDatabase({ poolSize: 2 });
/** The machine's PostgreSQL is shared by every test run: each process keeps a few connections. */
const SMALL_POOL = { DATABASE_POOL_SIZE: '3' };
let cluster: OwnRedisCluster;

beforeAll(async () => {
  cluster = await startRedisCluster(3);
});
afterAll(async () => {
  await cluster.stop();
});

/** The Redis variables of a process on the test's cluster: REDIS_URL (set by the harnesses) is emptied. */
const clusterEnv = (prefix: string) => ({ REDIS_URL: '', REDIS_CLUSTER_NODES: cluster.nodesEnv, QUEUE_PREFIX: prefix });

describe('Redis Cluster (three primaries started by the test)', () => {
  it('refuses to start without a hash-tagged QUEUE_PREFIX: exit 78, naming QUEUE_PREFIX and REDIS_CLUSTER_NODES', async () => {
    for (const [script, extra] of [
      ['apps/api/dist/main.js', { GOVERNANCE_TOKENS: 'ops:token' }],
      ['apps/worker/dist/main.js', {}],
    ] as const) {
      const child = startNodeProcess(script, [], { DATABASE_URL: database.current.url, REDIS_CLUSTER_NODES: cluster.nodesEnv, QUEUE_PREFIX: 'bull', ...extra });
      expect((await child.exited).code).toBe(78);
      expect(child.output()).toMatch(/QUEUE_PREFIX: is bull, but REDIS_CLUSTER_NODES needs a hash-tagged prefix such as \{valhalla\}/);
    }
  });

  it('changes through the api, the safety lane, the reconciler and the watchdog work, each exactly once, with every key in one slot', async () => {
    const pool = database.current.pool;
    const prefix = hashTaggedPrefix('cluster');
    const producer = createProducer(prefix, { kind: 'cluster', nodes: cluster.nodes, password: undefined });
    const api = await startApiProcess({ databaseUrl: database.current.url, redisUrl: '', prefix, extra: { ...clusterEnv(prefix), ...SMALL_POOL, RATE_LIMIT_PER_MINUTE: '100000' } });
    const reconcile = { RECONCILE_INTERVAL_MS: '200', RECONCILE_GRACE_MS: '500', VERIFY_INTERVAL_SECONDS: '1', ...SMALL_POOL };
    const workers = await Promise.all([1, 2].map((n) => startWorkerProcess(workerEnv(database.current, prefix, { ...clusterEnv(prefix), ...reconcile }), `worker ${n}`)));
    try {
      expect((await getJson(api.url, '/health', {})).body).toMatchObject({ status: 'ok', checks: { database: 'ok', redis: 'ok' } });

      // Through the api: queued changes, and engages and disables applied in the request.
      const jobIds: string[] = [];
      for (let i = 0; i < 25; i += 1) {
        const { path, body, expected } = changeRequest(i, 'cluster');
        const answer = await postJson(api.url, path, body);
        expect(answer.status, `${path} ${JSON.stringify(answer.body)}`).toBe(expected);
        jobIds.push(String(answer.body.jobId));
      }
      // The safety lane: an engage another service adds to governance-safety on the cluster.
      const direct = await producer.change({ action: 'kill_switch.engage', actor: 'ops:pager', reason: 'added to the safety lane' });
      expect((await producer.queues.byName[QUEUES.governanceSafety].getJob(direct))?.queueName).toBe(QUEUES.governanceSafety);
      expect((await waitForJob(producer, direct, 30_000)).state).toBe('completed');
      // The reconciler: a change recorded in PostgreSQL that never reached Redis (the api died between the two).
      const recorded = 'cluster-recorded-not-enqueued';
      const recordedPayload = { action: 'metadata.update', actor: 'ops:cluster', reason: 'recorded only', metadata: { notes: 'reconciled' } } as const;
      await acceptJob(pool, {
        jobId: recorded,
        queue: queueForJob(JOB_NAMES.goLiveChange, recordedPayload),
        jobName: JOB_NAMES.goLiveChange,
        payload: recordedPayload,
        actor: 'ops:cluster',
      });
      await expectEachExecutedOnce(pool, [...jobIds, direct, recorded]);
      await waitFor(async () => (await openAcceptances(pool)) === 0, { timeoutMs: 30_000, description: 'every acceptance settled' });
      // The api reads jobs on the cluster (a bounded read of the job's hash).
      const read = await getJson(api.url, `/api/jobs/${jobIds[0]}`);
      expect(read.body).toMatchObject({ id: jobIds[0], state: 'completed' });

      // The watchdog: one scheduler for two workers, one run per slot.
      expect((await producer.queues.byName[QUEUES.verification].getJobSchedulers()).map((s) => s.key)).toEqual([WATCHDOG_SCHEDULER_ID]);
      const watchdogSlots = async () =>
        (await pool.anyFirst(sql.unsafe`SELECT job_id FROM public.verification_runs WHERE actor = ${WATCHDOG_ACTOR}`))
          .map((id) => Number(/:(\d+)$/.exec(String(id))?.[1]))
          .sort((a, b) => a - b);
      const slots = await waitFor(async () => ((await watchdogSlots()).length >= 3 ? watchdogSlots() : false), { timeoutMs: 30_000, description: '3 watchdog runs' });
      for (let i = 1; i < slots.length; i += 1) expect((slots[i] as number) - (slots[i - 1] as number)).toBeGreaterThanOrEqual(1000);

      // Every key of the prefix lives on one primary, in one slot: BullMQ's scripts could run at all.
      const keysPerPrimary = await Promise.all(
        redisPrimaries(producer.redis).map(async (node) => ({ node, keys: (await node.scan('0', 'MATCH', `${prefix}:*`, 'COUNT', 10_000))[1] })),
      );
      const holders = keysPerPrimary.filter(({ keys }) => keys.length > 0);
      expect(holders).toHaveLength(1);
      const slotsUsed = new Set(await Promise.all(holders[0]!.keys.map((key) => holders[0]!.node.cluster('KEYSLOT', key))));
      expect(slotsUsed.size).toBe(1);

      // The primary that holds the queues dies (no replica): /health says degraded, and an engage is still applied.
      await cluster.killNode(Number(holders[0]!.node.options.port));
      await waitFor(async () => (await getJson(api.url, '/health', {})).body.status === 'degraded', { timeoutMs: 20_000, description: '/health degraded' });
      expect((await getJson(api.url, '/health', {})).body).toMatchObject({ checks: { database: 'ok', redis: 'unavailable' } });
      const engage = await postJson(api.url, '/api/governance/kill-switch', { engaged: true, reason: 'cluster primary lost' }, bearer());
      expect(engage.status).toBe(200);
      expect(engage.body).toMatchObject({ status: 'completed' });
    } finally {
      await Promise.all(workers.map((worker) => worker.stop('SIGTERM', 20_000)));
      await api.process.stop('SIGTERM', 20_000);
      await producer.close();
    }
  });
});
