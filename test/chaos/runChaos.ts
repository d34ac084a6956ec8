import { randomBytes } from 'node:crypto';
import { mkdir, rm, writeFile } from 'node:fs/promises';
import { cpus, loadavg, totalmem } from 'node:os';
import { join } from 'node:path';
import { round } from '../../bench/lib/stats.js';
import { createDatabasePool, readGovernanceRows, snapshotOf, sql, type DatabasePool } from '../../packages/core/src/index.js';
import { checkAnsweredChanges } from './checks/checkAnsweredChanges.js';
import { checkAuditChain } from './checks/checkAuditChain.js';
import { checkKeyedAnswers } from './checks/checkKeyedAnswers.js';
import { checkNoDoubles } from './checks/checkNoDoubles.js';
import { checkPlainJobs } from './checks/checkPlainJobs.js';
import { checkReconciledJobs } from './checks/checkReconciledJobs.js';
import { checkRefusedChanges } from './checks/checkRefusedChanges.js';
import { checkRunHealth } from './checks/checkRunHealth.js';
import { checkSafetyAnswers } from './checks/checkSafetyAnswers.js';
import { checkStateReplay } from './checks/checkStateReplay.js';
import { engageLatency } from './checks/engageLatency.js';
import { readRunRecord } from './checks/readRunRecord.js';
import { reconcilerFigures } from './checks/reconcilerFigures.js';
import { retryDatabase } from './retryDatabase.js';
import type { ChaosOptions } from './chaosOptions.js';
import { startHttpClients } from './clients/httpClients.js';
import { startPlainProducer } from './clients/plainProducer.js';
import { CHAOS_OPERATOR, startChaosCluster, type ChaosCluster } from './cluster/startChaosCluster.js';
import { ALL_FAULT_KINDS, type FaultKind, type FaultRecord } from './faults/faultKinds.js';
import { runFaultSchedule } from './faults/runFaultSchedule.js';
import { createRandom } from './random.js';
import type { ChaosResult } from './report/chaosResult.js';
import { tallyHttp } from './report/tallyHttp.js';
import { waitForDrain } from './waitForDrain.js';

/** How long a product process may take to answer after a (re)start on a loaded machine. */
const READY_TIMEOUT_MS = 90_000;
/** After the faults, how long a keyed client keeps repeating a request that is still unanswered. */
const CLIENT_GIVE_UP_MS = 60_000;

/** Where the product processes' logs go: beside the result file. */
const logsDirFor = (out: string): string => `${out.slice(0, -'.json'.length)}-logs`;

const writeLogs = async (cluster: ChaosCluster, dir: string) => {
  await rm(dir, { recursive: true, force: true });
  await mkdir(dir, { recursive: true });
  for (const product of cluster.processes) {
    const text = product.logs().map((log, i) => `=== ${product.name}, start ${i + 1} ===\n${log}`).join('\n');
    await writeFile(join(dir, `${product.name}.log`), text);
  }
};

const changeEntryCount = async (pool: DatabasePool) =>
  (await pool.oneFirst(sql.unsafe`SELECT count(*)::int FROM public.governance_audit_log WHERE kind = 'change'`)) as number;

/**
 * One fault run: starts the cluster, drives the clients while injecting faults for `options.minutes`, recovers and
 * drains, then checks PostgreSQL's record against what every client was told. Cleans up after itself (the database
 * is kept when a check failed, unless dropFailedDatabase). `log` receives progress lines; `signal` aborts the run (no
 * verdict then).
 * @throws when the run could not be carried out (the cluster did not start, the signal aborted it).
 */
export const runChaos = async (options: ChaosOptions, io: { log: (line: string) => void; signal: AbortSignal }): Promise<{ result: ChaosResult; startedAt: number }> => {
  const startedAt = Date.now();
  const loadAverageAtStart = loadavg();
  const random = createRandom(options.seed);
  const runId = randomBytes(3).toString('hex');
  const logsDir = logsDirFor(options.out);
  io.log(`chaos: seed ${options.seed}; creating the database and starting Redis, 2 apis and 2 workers`);
  const cluster = await startChaosCluster({ adminDatabaseUrl: options.adminDatabaseUrl, databasePrefix: options.databasePrefix, readyTimeoutMs: READY_TIMEOUT_MS });
  let keepDatabase = options.keepDatabase;
  const stops: (() => Promise<unknown>)[] = [];
  try {
    const pool = await createDatabasePool({ connectionUri: cluster.database.url, maxPoolSize: 2, applicationName: 'chaos-suite' });
    stops.push(() => pool.end());
    const rows = await retryDatabase(() => readGovernanceRows(pool));
    if (rows === null) throw new Error('the migrated database has no row 1');
    const initial = snapshotOf(rows);
    if ((await retryDatabase(() => changeEntryCount(pool))) !== 0) throw new Error('the new database already holds change entries');
    const setupMs = Date.now() - startedAt;
    io.log(`chaos: cluster ready in ${(setupMs / 1000).toFixed(1)} s (database ${cluster.database.name}); clients start, faults for ${options.minutes} min`);

    const clients = startHttpClients({
      apiUrls: cluster.apis.map((api) => api.url),
      token: CHAOS_OPERATOR.token,
      runId,
      keyed: options.keyedClients,
      unkeyed: options.unkeyedClients,
      pauseMs: { min: 20, max: 80 },
      random: createRandom(options.seed + 1),
    });
    stops.push(() => clients.stop(0));
    const producer = startPlainProducer({ redisUrl: cluster.redis.url, jobsPerSecond: options.plainJobsPerSecond, runId, random: createRandom(options.seed + 2) });
    stops.push(() => producer.stop());

    const faultsStartedAt = Date.now();
    const faults: FaultRecord[] = await runFaultSchedule(
      { cluster, pool, random, scale: options.faultScale, signal: io.signal },
      { durationMs: options.minutes * 60_000, kinds: options.faultKinds, onFault: (fault) => io.log(`chaos: +${((fault.startedAt - startedAt) / 1000).toFixed(1)} s ${fault.kind}: ${fault.detail}${fault.error === undefined ? '' : ` (NOT RECOVERED: ${fault.error})`}`) },
    );
    if (io.signal.aborted) throw new Error('the run was aborted');
    const faultsMs = Date.now() - faultsStartedAt;
    io.log('chaos: faults over; recovering, stopping the clients and draining');
    await cluster.recover();
    await clients.stop(CLIENT_GIVE_UP_MS);
    await producer.stop();
    const drainBoundMs = Math.round(45_000 + 75_000 * options.faultScale);
    const drain = await waitForDrain({ pool, redisUrl: cluster.redis.url, timeoutMs: drainBoundMs });
    io.log(`chaos: ${drain.drained ? 'drained' : 'NOT drained'} after ${(drain.tookMs / 1000).toFixed(1)} s; checking`);

    const run = await retryDatabase(() => readRunRecord(pool));
    const plain = checkPlainJobs(producer.records, run, faults);
    const checks = [
      checkAnsweredChanges(clients.records, run),
      checkSafetyAnswers(clients.records, run),
      checkRefusedChanges(clients.records, run),
      checkKeyedAnswers(clients.records),
      plain.check,
      checkNoDoubles(run, runId),
      checkReconciledJobs(faults, run),
      await retryDatabase(() => checkAuditChain(pool, cluster.auditKeys)),
      checkStateReplay(run, initial),
      checkRunHealth(faults, cluster.unexpectedExits, drain, drainBoundMs),
    ];
    const latency = engageLatency(clients.records, run, faults, {
      afterWindowMs: 10_000 * options.faultScale,
      workerNames: cluster.workers.map((worker) => worker.name),
    });
    const violations = checks.reduce((sum, check) => sum + check.violationCount, 0);
    keepDatabase ||= violations > 0 && !options.dropFailedDatabase;
    const faultCounts = Object.fromEntries(ALL_FAULT_KINDS.map((kind) => [kind, faults.filter((fault) => fault.kind === kind).length])) as Record<FaultKind, number>;
    const result: ChaosResult = {
      passed: violations === 0,
      violations,
      date: new Date(startedAt).toISOString(),
      seed: options.seed,
      settings: {
        minutes: options.minutes,
        faultScale: options.faultScale,
        faultKinds: options.faultKinds,
        keyedClients: options.keyedClients,
        unkeyedClients: options.unkeyedClients,
        plainJobsPerSecond: options.plainJobsPerSecond,
      },
      machine: {
        cpus: cpus().length,
        cpuModel: cpus()[0]?.model ?? 'unknown',
        memoryGiB: round(totalmem() / 2 ** 30, 1),
        node: process.version,
        loadAverageAtStart,
        loadAverageAtEnd: loadavg(),
      },
      database: { name: cluster.database.name, kept: keepDatabase },
      durationsMs: { setup: setupMs, faults: faultsMs, drain: drain.tookMs, total: Date.now() - startedAt },
      faults,
      faultCounts,
      http: tallyHttp(clients.records, run),
      plain: plain.outcomes,
      changeEntries: {
        total: run.changes.length,
        applied: run.changes.filter((entry) => entry.outcome === 'applied').length,
        unchanged: run.changes.filter((entry) => entry.outcome === 'unchanged').length,
        rejected: run.changes.filter((entry) => entry.outcome === 'rejected').length,
      },
      checks,
      engageLatency: latency.rows,
      engageAfterOutage: latency.afterOutage,
      slowestEngages: latency.slowest,
      reconciler: reconcilerFigures(run, faults),
      drain,
      unexpectedExits: cluster.unexpectedExits,
      startupExits: cluster.startupExits,
      logsDir,
    };
    return { result, startedAt };
  } finally {
    for (const stop of stops.reverse()) await stop().catch(() => undefined);
    await cluster.stop({ keepDatabase });
    await writeLogs(cluster, logsDir).catch((error: unknown) => io.log(`chaos: could not write the logs: ${String(error)}`));
  }
};
