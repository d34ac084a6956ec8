import { spawn } from 'node:child_process';
import pg from 'pg';
import { Redis } from 'ioredis';
import { freePort, productionNodeFlags, startProcess, type BenchProcess } from '../lib/environment.ts';
import { postLoad } from '../lib/http.ts';
import { SENTINEL_MASTER_NAME, startRedisCluster, startSentinelGroup, type FailoverKind } from '../lib/redisTopologies.ts';
import { median, round } from '../lib/stats.ts';
import type { BenchContext, Row } from './context.ts';

/** An api and a worker (production flags) on one Redis topology, the bench's database, a queue prefix of their own. */
type Deployment = { apiUrl: string; api: BenchProcess; worker: BenchProcess; stop: () => Promise<void> };

const deploy = async (ctx: BenchContext, redisEnv: Record<string, string>, label: string): Promise<Deployment> => {
  const port = await freePort();
  const apiUrl = `http://127.0.0.1:${port}`;
  const common = {
    NODE_ENV: 'production',
    AUDIT_HMAC_KEYS: ctx.auditKeys,
    DATABASE_URL: ctx.databaseUrl,
    LOG_LEVEL: 'warn',
    RELEASE: `bench-${label}`,
    // The machine's PostgreSQL is shared: a few connections per process.
    DATABASE_POOL_SIZE: '3',
    ...redisEnv,
  };
  const api = startProcess('apps/api/dist/main.js', { ...common, PORT: String(port), HOST: '127.0.0.1', GOVERNANCE_TOKENS: `bench:${ctx.token}`, RATE_LIMIT_PER_MINUTE: '1000000' }, productionNodeFlags('start:api'));
  const worker = startProcess('apps/worker/dist/main.js', { ...common, VERIFY_INTERVAL_SECONDS: '0' }, productionNodeFlags('start:worker'));
  const stop = async () => {
    await Promise.all([api.stop(), worker.stop()]);
  };
  const deadline = Date.now() + 60_000;
  while (!(await fetch(`${apiUrl}/health`).then(async (r) => r.ok && ((await r.json()) as { status: string }).status === 'ok', () => false))) {
    if (api.child.exitCode !== null || worker.child.exitCode !== null || Date.now() > deadline) {
      await stop();
      throw new Error(`the ${label} deployment did not start: ${api.output().slice(-1000)} ${worker.output().slice(-1000)}`);
    }
    await new Promise((resolve) => setTimeout(resolve, 50));
  }
  return { apiUrl, api, worker, stop };
};

/** A redis-server of the bench's own on a free port, configured as the cluster's nodes are (no persistence). */
const startSingleRedis = async (): Promise<{ url: string; stop: () => Promise<void> }> => {
  const port = await freePort();
  const child = spawn('redis-server', ['--port', String(port), '--bind', '127.0.0.1', '--save', '', '--appendonly', 'no', '--maxmemory-policy', 'noeviction'], { stdio: 'ignore' });
  const stop = () =>
    new Promise<void>((resolve) => {
      if (child.exitCode !== null || child.signalCode !== null) return resolve();
      child.once('exit', () => resolve());
      child.kill('SIGKILL');
    });
  for (let i = 0; ; i += 1) {
    const probe = new Redis({ port, host: '127.0.0.1', lazyConnect: true, maxRetriesPerRequest: 0, retryStrategy: () => null });
    probe.on('error', () => {});
    const ok = await probe.connect().then(async () => (await probe.ping()) === 'PONG', () => false);
    probe.disconnect();
    if (ok) break;
    if (i > 200) {
      await stop();
      throw new Error('the bench redis-server did not start');
    }
    await new Promise((resolve) => setTimeout(resolve, 50));
  }
  return { url: `redis://127.0.0.1:${port}`, stop };
};

/** Changes whose audit entry exists, counted per job id. */
const executedPerJob = async (ctx: BenchContext, jobIds: readonly string[]): Promise<Map<string, number>> => {
  const result = await ctx.pool.query<{ job_id: string; n: string }>(
    "SELECT job_id, count(*) AS n FROM public.governance_audit_log WHERE kind = 'change' AND job_id = ANY($1) GROUP BY job_id",
    [jobIds],
  );
  return new Map(result.rows.map((row) => [row.job_id, Number(row.n)]));
};

/**
 * (cluster) Change throughput through the product (metadata changes posted by 8 clients, each accepted, enqueued and
 * applied by the worker) on a Redis Cluster of three primaries against a single redis-server, both started by the
 * bench and configured alike, in alternating rounds of the same run.
 */
export const measureClusterThroughput = async (ctx: BenchContext, options: { changes: number; rounds: number }): Promise<Row[]> => {
  const single = await startSingleRedis();
  const cluster = await startRedisCluster(3).catch(async (error: unknown) => {
    await single.stop();
    throw error;
  });
  const deployments: Deployment[] = [];
  try {
    const onSingle = await deploy(ctx, { REDIS_URL: single.url, QUEUE_PREFIX: `${ctx.prefix}-single` }, 'single-redis');
    deployments.push(onSingle);
    const onCluster = await deploy(ctx, { REDIS_CLUSTER_NODES: cluster.nodesEnv, QUEUE_PREFIX: `{${ctx.prefix}-cluster}` }, 'redis-cluster');
    deployments.push(onCluster);
    const run = async (deployment: Deployment, label: string): Promise<number> => {
      const started = performance.now();
      const load = await postLoad({
        url: deployment.apiUrl,
        path: '/api/governance/system-metadata',
        token: ctx.token,
        total: options.changes,
        concurrency: 8,
        bodyFor: (i) => ({ notes: `${label} ${i} ${started}`, reason: `topology throughput ${label}` }),
      });
      if (load.ok !== options.changes) throw new Error(`${label}: only ${load.ok} of ${options.changes} posts were accepted`);
      // Done when every change posted in this round is applied: the audit log's newest rows carry this round's notes.
      const deadline = Date.now() + 300_000;
      for (;;) {
        const applied = await ctx.pool.query<{ n: string }>(
          "SELECT count(*) AS n FROM public.governance_audit_log WHERE kind = 'change' AND reason = $1 AND after->>'notes' LIKE $2",
          [`topology throughput ${label}`, `% ${started}`],
        );
        if (Number(applied.rows[0]?.n) >= options.changes) break;
        if (Date.now() > deadline) throw new Error(`${label}: the changes were not all applied in time`);
        await new Promise((resolve) => setTimeout(resolve, 20));
      }
      return options.changes / ((performance.now() - started) / 1000);
    };
    // Warm both up (JIT, pools, BullMQ's scripts loaded on every node); a quick run only checks the harness.
    if (!ctx.quick) {
      await run(onSingle, 'single warm-up');
      await run(onCluster, 'cluster warm-up');
    }
    const singleRates: number[] = [];
    const clusterRates: number[] = [];
    const ratios: number[] = [];
    for (let round_ = 0; round_ < options.rounds; round_ += 1) {
      const clusterFirst = round_ % 2 === 0;
      const first = await run(clusterFirst ? onCluster : onSingle, `round ${round_} ${clusterFirst ? 'cluster' : 'single'}`);
      const second = await run(clusterFirst ? onSingle : onCluster, `round ${round_} ${clusterFirst ? 'single' : 'cluster'}`);
      const [c, s] = clusterFirst ? [first, second] : [second, first];
      clusterRates.push(c);
      singleRates.push(s);
      ratios.push(c / s);
    }
    return [
      {
        measure: `change throughput on a 3-primary Redis Cluster vs one redis-server (N=${options.changes}, 8 clients, queued changes; rounds ${ratios.map((r) => round(r)).join(', ')})`,
        value: round(median(clusterRates), 0),
        unit: 'changes/s',
        baseline: round(median(singleRates), 0),
        ratio: round(median(ratios)),
        ...(ctx.quick ? {} : { target: '≥ 0.8×', met: median(ratios) >= 0.8 }),
      },
    ];
  } finally {
    for (const deployment of deployments) await deployment.stop();
    await cluster.stop();
    await single.stop();
  }
};

/**
 * (sentinel) A Sentinel group started by the bench (a primary, a replica, three sentinels), an api and a worker on it
 * with the product's defaults (the reconciler included), and a stream of changes through the api while the primary
 * fails over: for each failover, the time from the replica's promotion until the first change accepted after it is
 * committed, and at the end every change the api accepted (2xx) must be applied exactly once.
 */
export const measureSentinelFailover = async (ctx: BenchContext, options: { failovers: readonly FailoverKind[]; secondsBetween: number }): Promise<Row[]> => {
  const group = await startSentinelGroup();
  let deployment: Deployment | undefined;
  const listener = new pg.Client({ connectionString: ctx.databaseUrl });
  try {
    deployment = await deploy(ctx, { REDIS_SENTINELS: group.sentinelsEnv, REDIS_SENTINEL_MASTER: SENTINEL_MASTER_NAME, QUEUE_PREFIX: `${ctx.prefix}-sentinel` }, 'redis-sentinel');
    const apiUrl = deployment.apiUrl;
    // Commit times: the bench's own LISTEN sees each commit's notification, whose version is its newest audit id.
    await listener.connect();
    const commits: { version: number; at: number }[] = [];
    listener.on('notification', (message) => {
      const version = (JSON.parse(message.payload ?? '{}') as { version?: number }).version;
      if (version !== undefined) commits.push({ version, at: performance.now() });
    });
    await listener.query('LISTEN valhalla_live_state');

    const accepted: { jobId: string; at: number }[] = [];
    let refused = 0;
    let streaming = true;
    // Four clients posting changes one after another, for the whole measurement.
    const lanes = Array.from({ length: 4 }, async (_, lane) => {
      for (let i = 0; streaming; i += 1) {
        const response = await fetch(`${apiUrl}/api/governance/system-metadata`, {
          method: 'POST',
          headers: { authorization: `Bearer ${ctx.token}`, 'content-type': 'application/json' },
          body: JSON.stringify({ notes: `sentinel ${lane}.${i}`, reason: 'sentinel failover bench' }),
        }).catch(() => undefined);
        const body = response === undefined ? undefined : ((await response.json().catch(() => ({}))) as { jobId?: string });
        if (response !== undefined && response.status === 202 && body?.jobId !== undefined) accepted.push({ jobId: body.jobId, at: performance.now() });
        else refused += 1;
      }
    });
    const pause = (seconds: number) => new Promise((resolve) => setTimeout(resolve, seconds * 1000));
    const promotions: { how: FailoverKind; at: number }[] = [];
    await pause(options.secondsBetween);
    for (const how of options.failovers) {
      const { promotedAt } = await group.failOver(how);
      promotions.push({ how, at: promotedAt });
      await pause(options.secondsBetween);
    }
    streaming = false;
    await Promise.all(lanes);

    // Every accepted change applied (the reconciler re-enqueues what the new primary never had), within a bound.
    const jobIds = accepted.map((job) => job.jobId);
    const deadline = Date.now() + 120_000;
    let executed = await executedPerJob(ctx, jobIds);
    while (executed.size < new Set(jobIds).size && Date.now() < deadline) {
      await new Promise((resolve) => setTimeout(resolve, 200));
      executed = await executedPerJob(ctx, jobIds);
    }
    const lost = new Set(jobIds).size - executed.size;
    const doubled = [...executed.values()].filter((n) => n > 1).length;
    const auditIds = await ctx.pool.query<{ job_id: string; id: string }>("SELECT job_id, id FROM public.governance_audit_log WHERE kind = 'change' AND job_id = ANY($1)", [jobIds]);
    const auditIdOf = new Map(auditIds.rows.map((row) => [row.job_id, Number(row.id)]));

    const rows: Row[] = [];
    for (const promotion of promotions) {
      // The first change accepted after the promotion, and the commit that applied it.
      const firstAfter = accepted.filter((job) => job.at > promotion.at).map((job) => auditIdOf.get(job.jobId)).filter((id): id is number => id !== undefined);
      const earliest = Math.min(...firstAfter);
      const commit = commits.find((entry) => entry.version >= earliest);
      const resumeSeconds = commit === undefined ? Number.NaN : (commit.at - promotion.at) / 1000;
      rows.push({
        measure: `sentinel: ${promotion.how === 'kill' ? 'SIGKILL of the primary' : promotion.how === 'freeze' ? 'primary frozen (SIGSTOP)' : 'SENTINEL FAILOVER'}: replica promoted → first change accepted after it committed`,
        value: round(resumeSeconds, 2),
        unit: 's',
        target: '< 10 s',
        met: resumeSeconds < 10,
      });
    }
    rows.push({
      measure: `sentinel: changes accepted (2xx) during the failovers and not applied once (${accepted.length} accepted, ${refused} refused, ${doubled} applied twice)`,
      value: lost + doubled,
      unit: 'changes',
      target: '0',
      met: lost + doubled === 0,
    });
    return rows;
  } finally {
    await listener.end().catch(() => {});
    await deployment?.stop();
    await group.stop();
  }
};
