/**
 * `npm run bench` (add `-- --quick` for the smoke run that `npm test` uses): starts its own api and worker against the
 * local PostgreSQL and Redis (its own database and queue prefix), measures, prints a table and writes
 * bench/results.json. Ratios are measured in the same run, in alternating rounds.
 *
 * Environment: DATABASE_URL (an admin connection; the bench creates and drops its own database) and REDIS_URL, else
 * the local services. Options: --quick, --changes N, --concurrency C (HTTP and baselines), --worker-concurrency W,
 * --rounds R, --audit-rows N (audit-chain verification; default 1,000,000), --out FILE, --live-clients N (stream clients
 * for propagation), --engages E, --streams S (open streams for RSS), --only-live (skip the other measures), --only a,b
 * (run only the named steps: throughput, enqueue, latency, engage-idle, engage-backlog, engage-redis-stopped,
 * engage-frozen-worker, engage-db-outage, redis-loss, safety, overhead, migrations, audit, edge, live, ofrep, python,
 * streams, cluster, sentinel, notifications). The issue-23 steps (engage-*, redis-loss, with throughput and latency)
 * compare each figure with the raw single transaction timed in the same step, side by side, and report the spread
 * across --rounds; each needs only the local PostgreSQL and Redis, and starts what it stops (its own redis-server,
 * api, workers, a TCP proxy to PostgreSQL). The streams step: --stream-clients N (default 10,000; needs `ulimit -n` above N + 1,024, see
 * docs/scaling.md), --stream-processes P (client processes, default 4), --stream-changes C (default 100: a p99 of fewer samples is their maximum),
 * --stream-api-flags "<node flags>" (instead of start:api's). The cluster
 * step: --topology-changes N per round (default 2,000).
 */
import { writeFile } from 'node:fs/promises';
import { resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { formatResultsTable } from './lib/resultsTable.ts';
import { cpus, totalmem } from 'node:os';
import { Queue } from 'bullmq';
import pg from 'pg';
import { createDatabasePool, createLifecycle } from '@valhalla/core';
import { QUEUES } from '@valhalla/contract';
import { createMigrator, defaultMigrationsDir } from '@valhalla/core/migrator';
import { createBenchEnvironment, freePort, productionNodeFlags, startProcess } from './lib/environment.ts';
import { round } from './lib/stats.ts';
import { measureAuditVerification } from './measure/auditVerification.ts';
import { measureChangeThroughput } from './measure/changeThroughput.ts';
import type { BenchContext, Row } from './measure/context.ts';
import { measureEdgeBounds } from './measure/edgeBounds.ts';
import { measureEngageBehindBacklog } from './measure/engageBehindBacklog.ts';
import { measureEngageDatabaseOutage } from './measure/engageDatabaseOutage.ts';
import { measureEngageIdle } from './measure/engageIdle.ts';
import { measureEngageRedisStopped } from './measure/engageRedisStopped.ts';
import { measureEngageWorkerFrozen } from './measure/engageWorkerFrozen.ts';
import { measureEnqueueRate } from './measure/enqueueRate.ts';
import { measureLatency } from './measure/latency.ts';
import { measureLiveState } from './measure/liveState.ts';
import { measureMigrations } from './measure/migrations.ts';
import { measureNotifications } from './measure/notifications.ts';
import { measureOfrep } from './measure/ofrep.ts';
import { measurePythonClient } from './measure/pythonClient.ts';
import { measureRedisLoss } from './measure/redisLoss.ts';
import { measureSafetyLane } from './measure/safetyLane.ts';
import { measureClusterThroughput, measureSentinelFailover } from './measure/redisTopologyChanges.ts';
import { measureStreamScale } from './measure/streamScale.ts';
import { measureWorkerOverhead } from './measure/workerOverhead.ts';

const args = process.argv.slice(2);
const option = (name: string, fallback: number) => {
  const index = args.indexOf(name);
  return index >= 0 ? Number(args[index + 1]) : fallback;
};
const quick = args.includes('--quick');
const onlyIndex = args.indexOf('--only');
const onlySteps = onlyIndex >= 0 ? new Set((args[onlyIndex + 1] ?? '').split(',')) : undefined;
const onlyLive = args.includes('--only-live');
/** Whether a step runs: all by default; --only-live keeps the live-state step; --only names the steps. */
const runs = (step: string) => (onlySteps === undefined ? !onlyLive || step === 'live' : onlySteps.has(step));
const outIndex = args.indexOf('--out');
const outFile = outIndex >= 0 ? (args[outIndex + 1] as string) : new URL('./results.json', import.meta.url);

const environment = await createBenchEnvironment({
  adminDatabaseUrl: process.env.DATABASE_URL ?? 'postgresql://postgres@127.0.0.1:5432/postgres',
  redisUrl: process.env.REDIS_URL ?? 'redis://127.0.0.1:6379',
});
{
  // Which database the bench touches (a scratch database of its own there), never the password.
  const url = new URL(environment.databaseUrl);
  process.stderr.write(`bench: database ${url.hostname}:${url.port || '5432'}${url.pathname} (dropped afterwards)${process.env.DATABASE_URL ? '' : ', on the local PostgreSQL (no DATABASE_URL)'}\n`);
}
const concurrency = option('--concurrency', quick ? 8 : 32);
const token = 'bench-operator-token-0123456789abcdef';
const appToken = 'bench-app-token-0123456789abcdefghij';
// What the bench started, stopped last first in the end: every step runs even when one fails.
const cleanups = createLifecycle({
  info: () => undefined,
  error: ({ step, err }) => process.stderr.write(`cleanup: ${step}: ${String(err)}\n`),
});
cleanups.add('drop the bench database', environment.drop);

try {
  const migrationPool = await createDatabasePool({ connectionUri: environment.databaseUrl, maxPoolSize: 1, applicationName: 'bench-migrate' });
  try {
    await createMigrator({ db: migrationPool, migrationsDir: defaultMigrationsDir() }).up();
  } finally {
    await migrationPool.end();
  }
  const port = await freePort();
  const apiUrl = `http://127.0.0.1:${port}`;
  const common = {
    NODE_ENV: 'production',
    AUDIT_HMAC_KEYS: 'bench:bench-audit-key-0123456789abcdef0123',
    DATABASE_URL: environment.databaseUrl,
    REDIS_URL: environment.redisUrl,
    QUEUE_PREFIX: environment.prefix,
    LOG_LEVEL: 'warn',
    RELEASE: `bench-${environment.id}`,
    DATABASE_POOL_SIZE: String(Math.min(concurrency, 20)),
    // Notifications (the notifications step): the bench operator manages subscriptions to receivers on the loopback.
    ADMIN_ACTORS: 'bench',
    NOTIFICATION_ALLOWED_HOSTS: '127.0.0.1',
    NOTIFICATION_SECRET_KEYS: `bench:${Buffer.alloc(32, 66).toString('base64')}`,
  };
  const api = startProcess('apps/api/dist/main.js', {
    ...common,
    PORT: String(port),
    HOST: '127.0.0.1',
    GOVERNANCE_TOKENS: `bench:${token}`,
    APP_TOKENS: `bench-app:${appToken}`,
    RATE_LIMIT_PER_MINUTE: '1000000',
  }, productionNodeFlags('start:api'));
  cleanups.add('stop the api', api.stop);
  const workerConcurrency = option('--worker-concurrency', Number.NaN);
  const worker = startProcess('apps/worker/dist/main.js', {
    ...common,
    API_URL: apiUrl,
    // The product's default unless asked otherwise: the bench measures what a deploy runs.
    ...(Number.isNaN(workerConcurrency) ? {} : { WORKER_CONCURRENCY: String(workerConcurrency) }),
  }, productionNodeFlags('start:worker'));
  cleanups.add('stop the worker', worker.stop);
  for (let i = 0; ; i += 1) {
    const ok = await fetch(`${apiUrl}/health`).then((r) => r.ok, () => false);
    if (ok) break;
    if (i > 300) throw new Error(`api did not become healthy: ${api.output().slice(-2000)}`);
    await new Promise((resolve) => setTimeout(resolve, 100));
  }

  const pool = new pg.Pool({ connectionString: environment.databaseUrl, max: concurrency });
  cleanups.add('end the pool', () => pool.end());
  const governanceQueue = new Queue(QUEUES.governance, { prefix: environment.prefix, connection: { url: environment.redisUrl } });
  cleanups.add('close the queue', () => governanceQueue.close());

  const ctx: BenchContext = {
    quick,
    apiUrl,
    token,
    appToken,
    auditKeys: common.AUDIT_HMAC_KEYS,
    databaseUrl: environment.databaseUrl,
    redisUrl: environment.redisUrl,
    prefix: environment.prefix,
    pool,
    governanceQueue,
    api,
    worker,
    changes: option('--changes', quick ? 300 : 5_000),
    concurrency,
    rounds: option('--rounds', quick ? 1 : 2),
  };

  const rows: Row[] = [];
  const step = async (name: string, measure: () => Promise<Row[]>) => {
    process.stderr.write(`bench: ${name}…\n`);
    rows.push(...(await measure()));
  };
  if (runs('throughput')) {
    await step('change throughput', () => measureChangeThroughput(ctx));
    const apiRss = api.peakRssMb();
    const workerRss = worker.peakRssMb();
    rows.push(
      { measure: 'api peak RSS during change throughput', value: round(apiRss, 1), unit: 'MB', target: '< 150 MB', met: apiRss < 150 },
      { measure: 'worker peak RSS during change throughput', value: round(workerRss, 1), unit: 'MB', target: '< 150 MB', met: workerRss < 150 },
    );
  }
  if (runs('enqueue')) await step('enqueue rate', () => measureEnqueueRate(ctx));
  if (runs('latency')) await step('latency', () => measureLatency(ctx));
  if (runs('engage-idle')) await step('engage, nothing queued', () => measureEngageIdle(ctx));
  if (runs('engage-backlog')) await step('engage behind a backlog', () => measureEngageBehindBacklog(ctx));
  if (runs('engage-redis-stopped')) await step('engage with Redis stopped', () => measureEngageRedisStopped(ctx));
  if (runs('engage-frozen-worker')) await step('engage while a worker is frozen', () => measureEngageWorkerFrozen(ctx));
  if (runs('engage-db-outage')) await step('engage during a database outage', () => measureEngageDatabaseOutage(ctx));
  if (runs('redis-loss')) await step('Redis restarted empty', () => measureRedisLoss(ctx));
  if (runs('safety')) await step('safety lane', () => measureSafetyLane(ctx));
  if (runs('overhead')) await step('worker overhead', () => measureWorkerOverhead(ctx));
  if (runs('migrations')) await step('migrations', () => measureMigrations(ctx));
  if (runs('notifications')) await step('notifications', () => measureNotifications(ctx));
  if (runs('audit')) {
    await step('audit verification', () =>
      measureAuditVerification({ databaseUrl: environment.databaseUrl, rows: option('--audit-rows', quick ? 20_000 : 1_000_000), quick }),
    );
  }
  if (runs('edge')) await step('edge bounds', () => measureEdgeBounds(ctx));
  const liveClients = option('--live-clients', Number.NaN);
  if (runs('live')) {
    await step('live state', () =>
      measureLiveState(ctx, {
        clients: Number.isNaN(liveClients) ? (quick ? [20] : [100, 1_000]) : [liveClients],
        engages: option('--engages', quick ? 10 : 100),
        streamsForRss: option('--streams', quick ? 100 : 1_000),
      }),
    );
  }
  if (runs('streams')) {
    await step('stream clients at scale', () =>
      measureStreamScale(ctx, {
        clients: option('--stream-clients', quick ? 200 : 10_000),
        processes: option('--stream-processes', quick ? 2 : 4),
        paused: quick ? 10 : 100,
        changes: option('--stream-changes', quick ? 3 : 100),
        // The api's node flags instead of start:api's (e.g. a larger young generation for many streams).
        apiNodeFlags: args.includes('--stream-api-flags') ? (args[args.indexOf('--stream-api-flags') + 1] ?? '').split(' ').filter((flag) => flag.length > 0) : undefined,
      }),
    );
  }
  if (runs('cluster')) {
    await step('Redis Cluster throughput', () =>
      measureClusterThroughput(ctx, { changes: option('--topology-changes', quick ? 50 : 2_000), rounds: Math.max(ctx.rounds, quick ? 1 : 3) }),
    );
  }
  if (runs('sentinel')) {
    await step('Redis Sentinel failover', () =>
      measureSentinelFailover(ctx, { failovers: quick ? ['sentinel-failover'] : ['sentinel-failover', 'kill'], secondsBetween: quick ? 1 : 5 }),
    );
  }

  if (runs('ofrep')) await step('OFREP', () => measureOfrep(ctx, { engages: option('--engages', quick ? 10 : 100) }));
  if (runs('python')) await step('Python client', () => measurePythonClient(ctx, { engages: option('--engages', quick ? 10 : 100) }));

  const machine = { cpus: cpus().length, cpuModel: cpus()[0]?.model ?? 'unknown', memoryGiB: round(totalmem() / 2 ** 30, 1), node: process.version };
  // A quick run cannot judge targets: its rows keep the target but claim no verdict.
  const judged = quick ? rows.map(({ met: _met, ...row }) => row) : rows;
  const results = { quick, date: new Date().toISOString(), machine, parameters: { changes: ctx.changes, concurrency, rounds: ctx.rounds }, rows: judged };
  await writeFile(outFile, `${JSON.stringify(results, null, 2)}\n`);

  const written = outFile instanceof URL ? fileURLToPath(outFile) : resolve(outFile);
  process.stdout.write(
    [
      '',
      formatResultsTable(judged, !quick),
      '',
      `machine: ${machine.cpus} × ${machine.cpuModel}, ${machine.memoryGiB} GiB, Node ${machine.node}; ${ctx.changes} changes, ${ctx.rounds} round(s)`,
      ...(quick ? ['quick run: a smoke test of the harness, too small to judge the targets (run npm run bench for them)'] : []),
      `results written to ${written}`,
      '',
    ].join('\n'),
  );
} finally {
  await cleanups.close();
}
