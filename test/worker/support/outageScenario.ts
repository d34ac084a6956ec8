import { Queue } from 'bullmq';
import { expect } from 'vitest';
import { JOB_CATALOG, JOB_NAMES, GOVERNANCE_CHANGE_QUEUES, QUEUES, changeIdentity, decodeJobFailure, type GoLiveChangePayload } from '../../../packages/contract/src/index.js';
import { bearer, startApi } from '../../api/support.js';
import { startTcpProxy, type TcpProxy } from '../../api/tcpProxy.js';
import { createTestRedis } from '../../helpers/redis.js';
import { waitFor } from '../../helpers/waitFor.js';
import type { WorkerApp } from '../../../apps/worker/src/index.js';
import { currentSnapshot, expectAuditReplaysToState, startInProcessWorker, type WorkerFixture } from './workerHarness.js';

export type OutageOutcome = {
  /** Every governance job, with when it was created and how it ended. */
  jobs: { id: string; identity: string; action: string; createdAt: number; finishedOn: number; state: string; attemptsStarted: number; failure: ReturnType<typeof decodeJobFailure> | null; source: 'api' | 'plain' }[];
  outageStartedAt: number;
  outageEndedAt: number;
  /** Job states the api answered for jobs created during the outage (what an operator sees while it lasts). */
  statesSeenDuringOutage: Set<string>;
  /** Every body the api answered during the test, to check for leaked internals. */
  apiBodies: string[];
  /** Job ids of the engages and disables the api applied in the request (no queued job: its database stayed up). */
  appliedInRequest: string[];
};

const PAYLOADS = [
  { action: 'kill_switch.engage', reason: 'stream engage' },
  { action: 'kill_switch.release', reason: 'stream release' },
  { action: 'metadata.update', reason: 'stream metadata', metadata: { notes: 'n' } },
  { action: 'go_live.disable', reason: 'stream disable' },
] as const;

const API_ROUTE: Record<string, { url: string; body: (reason: string) => object }> = {
  'kill_switch.engage': { url: '/api/governance/kill-switch', body: (reason) => ({ engaged: true, reason }) },
  'kill_switch.release': { url: '/api/governance/kill-switch', body: (reason) => ({ engaged: false, reason }) },
  'metadata.update': { url: '/api/governance/system-metadata', body: (reason) => ({ notes: 'n', reason }) },
  'go_live.disable': { url: '/api/governance/go-live', body: (reason) => ({ enabled: false, reason }) },
};

/**
 * A stream of changes from the api (in-process, on the test database directly) and from a plain BullMQ client
 * (counter ids, a priority, no attempts) while the worker's only way to PostgreSQL, a TCP proxy, refuses and cuts
 * connections for `outageMs`. Returns once every job has finished; asserts one audit entry per job and that the
 * audit log replays to the state.
 */
export const runOutageScenario = async (
  fixture: WorkerFixture,
  options: {
    outageMs: number;
    workerEnv: Record<string, string>;
    streamIntervalMs: number;
    finishTimeoutMs: number;
    /** Runs once every job finished, before the worker closes (e.g. to scrape its metrics). */
    inspectWorker?: (worker: WorkerApp) => Promise<void>;
  },
): Promise<OutageOutcome> => {
  const { database } = fixture;
  const initial = await currentSnapshot(database.pool);
  const api = await startApi(database);
  const target = new URL(database.url);
  const upstream = { host: target.hostname, port: Number(target.port || 5432) };
  let proxy: TcpProxy = await startTcpProxy(upstream);
  const viaProxy = new URL(database.url);
  viaProxy.port = String(proxy.port);
  const worker = await startInProcessWorker(database, api.prefix, {
    env: { DATABASE_URL: viaProxy.toString(), WORKER_CONCURRENCY: '4', DATABASE_POOL_SIZE: '4', ...options.workerEnv },
  });
  const redis = createTestRedis();
  const plain = new Queue(QUEUES.governance, { connection: redis, prefix: api.prefix });
  plain.on('error', () => {});
  const apiBodies: string[] = [];
  const appliedInRequest: string[] = [];
  const sources = new Map<string, 'api' | 'plain'>();
  const statesSeenDuringOutage = new Set<string>();
  let outageStartedAt = 0;
  let outageEndedAt = 0;

  const post = async (i: number) => {
    const payload = PAYLOADS[i % PAYLOADS.length]!;
    const route = API_ROUTE[payload.action]!;
    const response = await api.app.inject({ method: 'POST', url: route.url, payload: route.body(`${payload.reason} ${i}`), headers: bearer() });
    apiBodies.push(response.body);
    // Engages and disables are applied by the api in the request (its own database connection is not cut).
    const inRequest = payload.action === 'kill_switch.engage' || payload.action === 'go_live.disable';
    expect(response.statusCode, response.body).toBe(inRequest ? 200 : 202);
    if (inRequest) appliedInRequest.push(response.json().jobId);
    else sources.set(response.json().jobId, 'api');
    return response.json().jobId as string;
  };
  const addPlain = async (i: number) => {
    const payload = { ...PAYLOADS[(i + 1) % PAYLOADS.length]!, actor: 'other-service', reason: `plain ${i}` } as GoLiveChangePayload;
    // What docs/architecture.md asks of other producers: a priority. No attempts, no job id.
    const job = await plain.add(JOB_NAMES.goLiveChange, payload, { priority: JOB_CATALOG[JOB_NAMES.goLiveChange].priority(payload) });
    sources.set(job.id!, 'plain');
  };
  let streaming = true;
  let sent = 0;
  const stream = (async () => {
    while (streaming) {
      await Promise.all([post(sent), addPlain(sent)]);
      sent += 1;
      await new Promise((resolve) => setTimeout(resolve, options.streamIntervalMs));
    }
  })();

  try {
    await waitFor(() => sent >= 3, { description: 'a few changes before the outage' });
    outageStartedAt = Date.now();
    await proxy.cut();
    // A release: a queued job, which waits for the database like every job of the worker.
    const duringOutage = await post(100_001);
    const outageEnds = outageStartedAt + options.outageMs;
    // The outage lasts a fixed time (that is the fault being made); meanwhile the job is sampled every 250 ms.
    await waitFor(
      async () => {
        const seen = await api.app.inject({ method: 'GET', url: `/api/jobs/${duringOutage}`, headers: bearer() });
        apiBodies.push(seen.body);
        statesSeenDuringOutage.add(seen.json().state);
        return Date.now() >= outageEnds;
      },
      { timeoutMs: options.outageMs + 10_000, intervalMs: 250, description: 'the end of the outage, sampling the job' },
    );
    proxy = await startTcpProxy(upstream, proxy.port);
    outageEndedAt = Date.now();
    await waitFor(() => sent >= 3 + Math.ceil(options.outageMs / options.streamIntervalMs / 4), { timeoutMs: 5_000, description: 'changes after the outage' }).catch(() => undefined);
    streaming = false;
    await stream;

    const total = sources.size;
    // Both change queues: the api sends engages and disables to governance-safety.
    const queues = GOVERNANCE_CHANGE_QUEUES.map((name) => api.queues.byName[name]);
    await waitFor(
      async () => {
        let finishedCount = 0;
        for (const queue of queues) {
          const counts = await queue.getJobCounts('completed', 'failed');
          finishedCount += (counts.completed ?? 0) + (counts.failed ?? 0);
        }
        return finishedCount === total;
      },
      { timeoutMs: options.finishTimeoutMs, intervalMs: 200, description: `${total} governance jobs to finish` },
    );
    const finished = (await Promise.all(queues.map(async (queue) => [...(await queue.getCompleted(0, -1)), ...(await queue.getFailed(0, -1))]))).flat();
    const jobs = await Promise.all(
      finished.map(async (job) => ({
        id: job.id!,
        identity: changeIdentity(job.id!, job.timestamp),
        action: (job.data as GoLiveChangePayload).action,
        createdAt: job.timestamp,
        finishedOn: job.finishedOn ?? 0,
        state: await job.getState(),
        attemptsStarted: job.attemptsStarted,
        failure: job.failedReason ? decodeJobFailure(job.failedReason) : null,
        source: sources.get(job.id!) ?? ('plain' as const),
      })),
    );
    expect(jobs).toHaveLength(total);

    // Exactly one audit entry per job, under the job's identity, and the log replays to the state.
    const entries = await expectAuditReplaysToState(database.pool, initial);
    const governanceEntries = entries.filter((entry) => !entry.action.startsWith('job.'));
    expect(governanceEntries).toHaveLength(total + appliedInRequest.length);
    expect(new Set(governanceEntries.map((entry) => entry.job_id))).toEqual(new Set([...jobs.map((job) => job.identity), ...appliedInRequest]));
    await options.inspectWorker?.(worker);
    return { jobs, outageStartedAt, outageEndedAt, statesSeenDuringOutage, apiBodies, appliedInRequest };
  } finally {
    streaming = false;
    await stream.catch(() => undefined);
    await worker.close();
    await plain.close();
    redis.disconnect();
    await api.close();
    await proxy.cut();
  }
};

/** No answer or job error may carry a connection string, host, port or stack. */
export const expectNoInternals = (texts: readonly string[], databaseUrl: string) => {
  const url = new URL(databaseUrl);
  for (const text of texts) {
    expect(text).not.toContain(databaseUrl);
    expect(text).not.toMatch(/ECONNREFUSED|ECONNRESET|127\.0\.0\.1|postgres(ql)?:\/\/|\n\s+at /);
    expect(text).not.toContain(`:${url.port || 5432}`);
  }
};
