import { fork, type ChildProcess } from 'node:child_process';
import { readFileSync } from 'node:fs';
import pg from 'pg';
import { freePort, productionNodeFlags, REPO_ROOT, startProcess, type BenchProcess } from '../lib/environment.ts';
import { postJson } from '../lib/http.ts';
import { percentile, round } from '../lib/stats.ts';
import type { BenchContext, Row } from './context.ts';

/** The api's default LIVE_STREAMS_PER_TOKEN: the bench spreads its clients over app tokens of this many streams each. */
const STREAMS_PER_TOKEN = 1_000;
/** Descriptors the api needs besides its streams (pool, Redis, listener, files), and each client process likewise. */
const FD_HEADROOM = 1_024;

const now = () => Number(process.hrtime.bigint()) / 1e6;

/**
 * The soft limit on open files (`Max open files` in /proc/self/limits: Node has no getrlimit). Child processes inherit
 * it, and Node cannot raise it (no setrlimit): the shell that starts the bench must (`ulimit -n`).
 * @throws when the api or a client process would run out of descriptors.
 */
const checkDescriptorLimit = (needed: number): number => {
  const line = /^Max open files\s+(\d+|unlimited)/m.exec(readFileSync('/proc/self/limits', 'utf8'))?.[1];
  const soft = line === undefined || line === 'unlimited' ? Number.POSITIVE_INFINITY : Number(line);
  if (soft < needed) {
    throw new Error(
      `the stream step needs ${needed} open files per process and the limit is ${soft}: raise it in the shell that runs the bench ` +
        `(ulimit -n 65536; the hard limit, ulimit -Hn, caps it: raise that in /etc/security/limits.conf or the service's LimitNOFILE), ` +
        `or run fewer clients (--stream-clients N)`,
    );
  }
  return soft;
};

type ClientsProcess = { child: ChildProcess; ready: Promise<void>; summary: () => Promise<Summary> };
type Summary = { lastIds: Record<string, number>; outOfOrder: number; reconnects: number; errors: number };

/** Collects `complete` reports: for each event id, the arrival times once every process has reported it. */
const createArrivals = (processes: number) => {
  const partial = new Map<string, number[][]>();
  const waiting = new Map<string, (times: number[]) => void>();
  const done = new Map<string, number[]>();
  return {
    report: (id: string, times: number[]) => {
      const parts = partial.get(id) ?? [];
      parts.push(times);
      partial.set(id, parts);
      if (parts.length < processes) return;
      const all = parts.flat();
      partial.delete(id);
      done.set(id, all);
      waiting.get(id)?.(all);
    },
    /** Every client's arrival time for `id`, once all have it. */
    wait: (id: string, timeoutMs: number): Promise<number[]> =>
      new Promise((resolve, reject) => {
        const ready = done.get(id);
        if (ready !== undefined) return resolve(ready);
        const timer = setTimeout(() => reject(new Error(`not every stream client received version ${id} within ${timeoutMs} ms`)), timeoutMs);
        waiting.set(id, (times) => {
          clearTimeout(timer);
          resolve(times);
        });
      }),
  };
};

const startClients = (config: { url: string; tokens: string[]; count: number; paused: number }, onComplete: (id: string, times: number[]) => void): ClientsProcess => {
  const child = fork(`${REPO_ROOT}bench/lib/streamClients.ts`, [], {
    env: { PATH: process.env.PATH ?? '', BENCH_STREAM_CLIENTS: JSON.stringify(config) },
    stdio: ['ignore', 'inherit', 'inherit', 'ipc'],
  });
  let resolveReady: () => void = () => {};
  const ready = new Promise<void>((resolve, reject) => {
    resolveReady = resolve;
    child.once('exit', (code) => reject(new Error(`a stream client process exited with ${code}`)));
  });
  ready.catch(() => {});
  let onSummary: (summary: Summary) => void = () => {};
  child.on('message', (message: { type: string; id?: string; arrivals?: number[] } & Partial<Summary>) => {
    if (message.type === 'ready') resolveReady();
    else if (message.type === 'complete') onComplete(message.id as string, message.arrivals as number[]);
    else if (message.type === 'summary') onSummary(message as Summary);
  });
  return {
    child,
    ready,
    summary: () =>
      new Promise((resolve) => {
        onSummary = resolve;
        child.send({ type: 'summary' });
      }),
  };
};

/** CPU time (user + system) a process used so far, in ms, from /proc (clock ticks of 10 ms). */
const cpuMs = (pid: number | undefined): number => {
  const fields = readFileSync(`/proc/${pid}/stat`, 'utf8').split(') ')[1]?.split(' ') ?? [];
  // After the command name: state is field 3, so utime (14) and stime (15) are at 11 and 12.
  return (Number(fields[11]) + Number(fields[12])) * 10;
};

const rssMb = (pid: number | undefined, field: 'VmRSS' | 'VmHWM' = 'VmRSS'): number =>
  Number(new RegExp(`${field}:\\s+(\\d+)`).exec(readFileSync(`/proc/${pid}/status`, 'utf8'))?.[1] ?? Number.NaN) / 1024;

/**
 * (streams) `clients` stream clients on one api instance of its own (production flags), held by `processes` child
 * processes, plus `paused` clients that never read after their first event:
 * - commit → every client: for each of `changes` changes, from the moment the bench's own LISTEN connection sees the
 *   commit's notification until each client has the event (per client, and until the last one: the target);
 * - the api's RSS with the streams open, and per connection;
 * - a reconnect storm: the api is stopped (SIGTERM: its streams end), a change is committed while it is down, a new
 *   api starts on the same port, and every client reconnects with Last-Event-ID: time until all have the new version,
 *   and clients that missed it or saw an older version after a newer one (0 each).
 */
export const measureStreamScale = async (
  ctx: BenchContext,
  options: { clients: number; processes: number; paused: number; changes: number; apiNodeFlags?: readonly string[] | undefined },
): Promise<Row[]> => {
  const perProcess = Math.ceil((options.clients + options.paused) / options.processes);
  const limit = checkDescriptorLimit(Math.max(options.clients + options.paused + FD_HEADROOM, perProcess + FD_HEADROOM));
  const tokens = Array.from({ length: Math.ceil((options.clients + options.paused) / STREAMS_PER_TOKEN) }, (_, i) => `bench-app-${i}-token-0123456789abcdef`);
  const port = await freePort();
  const apiUrl = `http://127.0.0.1:${port}`;
  const apiEnv = {
    NODE_ENV: 'production',
    AUDIT_HMAC_KEYS: ctx.auditKeys,
    DATABASE_URL: ctx.databaseUrl,
    REDIS_URL: ctx.redisUrl,
    QUEUE_PREFIX: ctx.prefix,
    LOG_LEVEL: 'warn',
    PORT: String(port),
    HOST: '127.0.0.1',
    DATABASE_POOL_SIZE: '5',
    GOVERNANCE_TOKENS: `bench:${ctx.token}`,
    APP_TOKENS: tokens.map((token, i) => `app${i}:${token}`).join(','),
    RATE_LIMIT_PER_MINUTE: '1000000',
  };
  const startApi = async (): Promise<BenchProcess> => {
    const api = startProcess('apps/api/dist/main.js', apiEnv, options.apiNodeFlags ?? productionNodeFlags('start:api'));
    const deadline = Date.now() + 60_000;
    while (!(await fetch(`${apiUrl}/health`).then((r) => r.ok, () => false))) {
      if (api.child.exitCode !== null || Date.now() > deadline) throw new Error(`the stream step's api did not start: ${api.output().slice(-2000)}`);
      await new Promise((resolve) => setTimeout(resolve, 20));
    }
    return api;
  };
  let api = await startApi();
  const listener = new pg.Client({ connectionString: ctx.databaseUrl });
  await listener.connect();
  const notifiedAt = new Map<string, number>();
  listener.on('notification', (message) => {
    const etag = (JSON.parse(message.payload ?? '{}') as { etag?: string }).etag;
    if (etag !== undefined) notifiedAt.set(etag, now());
  });
  await listener.query('LISTEN valhalla_live_state');
  const arrivals = createArrivals(options.processes);
  const children: ClientsProcess[] = [];
  const rows: Row[] = [];
  try {
    // Warm the api (JIT, pool) before reading its resident set.
    for (let i = 0; i < 50; i += 1) await fetch(`${apiUrl}/api/governance/live`, { headers: { authorization: `Bearer ${tokens[0]}` } }).then((r) => r.arrayBuffer());
    const before = rssMb(api.child.pid);
    const connectStarted = now();
    for (let p = 0; p < options.processes; p += 1) {
      const count = Math.floor(options.clients / options.processes) + (p < options.clients % options.processes ? 1 : 0);
      const paused = Math.floor(options.paused / options.processes) + (p < options.paused % options.processes ? 1 : 0);
      // Each process's clients use every token: the per-token limit spreads evenly.
      children.push(startClients({ url: apiUrl, tokens, count, paused }, arrivals.report));
    }
    await Promise.all(children.map((child) => child.ready));
    const connectSeconds = (now() - connectStarted) / 1000;

    // commit → every client, alternating engage (applied in the request) and release (applied by the worker), made
    // through the bench's other api: the one holding the streams only learns of the commit and fans it out, as an
    // instance does when another one (or a worker) made the change.
    const allClients: number[] = [];
    const perClient: number[] = [];
    let apiCpu = 0;
    const warmUp = ctx.quick ? 1 : 3;
    for (let i = -warmUp; i < options.changes; i += 1) {
      const engaged = i % 2 === 0;
      const cpuBefore = cpuMs(api.child.pid);
      const answer = await postJson(`${ctx.apiUrl}/api/governance/kill-switch`, ctx.token, { engaged, reason: `stream scale ${i}` });
      if (answer.status !== 200 && answer.status !== 202) throw new Error(`kill-switch answered ${answer.status}`);
      const version = await waitForVersion(ctx, engaged);
      const times = await arrivals.wait(version, 60_000);
      const committedAt = notifiedAt.get(version);
      if (i < 0 || committedAt === undefined) continue;
      apiCpu += cpuMs(api.child.pid) - cpuBefore;
      allClients.push(Math.max(...times) - committedAt);
      for (const time of times) perClient.push(time - committedAt);
    }
    const withStreams = rssMb(api.child.pid);
    const peak = rssMb(api.child.pid, 'VmHWM');
    const perConnectionKb = ((withStreams - before) * 1024) / (options.clients + options.paused);
    const flags = options.apiNodeFlags === undefined ? '' : `, api started with ${options.apiNodeFlags.join(' ')}`;
    const label = `${options.clients.toLocaleString('en-US')} stream clients on one api (${options.processes} client processes, ${options.paused} more never reading${flags})`;
    rows.push(
      { measure: `streams: ${label} connected in`, value: round(connectSeconds, 1), unit: 's' },
      { measure: `streams: commit → every client, per client p50 / p99: ${round(percentile(perClient, 50))} / ${round(percentile(perClient, 99))} ms`, value: round(percentile(perClient, 99)), unit: 'ms' },
      { measure: `streams: commit → all ${options.clients.toLocaleString('en-US')} clients, p50 (${options.changes} changes)`, value: round(percentile(allClients, 50)), unit: 'ms' },
      {
        measure: `streams: commit → all ${options.clients.toLocaleString('en-US')} clients, p99 (${options.changes} changes)`,
        value: round(percentile(allClients, 99)),
        unit: 'ms',
        target: '< 250 ms',
        met: percentile(allClients, 99) < 250,
      },
      {
        measure: `streams: api RSS with ${(options.clients + options.paused).toLocaleString('en-US')} open streams (before: ${round(before, 1)} MB; peak ${round(peak, 1)} MB)`,
        value: round(withStreams, 1),
        unit: 'MB',
        target: '< 300 MB',
        met: withStreams < 300,
      },
      { measure: 'streams: api memory per open stream ((RSS with − before) / streams)', value: round(perConnectionKb, 1), unit: 'kB' },
      {
        measure: `streams: CPU the api holding the streams spends per change (the notification, the write to every stream; /proc, 10 ms ticks)`,
        value: round(apiCpu / allClients.length, 0),
        unit: 'ms',
      },
    );

    // The reconnect storm: the api restarts (a deploy) while a change is committed.
    const stoppedAt = now();
    await api.stop();
    const stopSeconds = (now() - stoppedAt) / 1000;
    const engagedBefore = (await ctx.pool.query<{ k: boolean }>('SELECT kill_switch_engaged AS k FROM public.go_live_state WHERE id = 1')).rows[0]?.k ?? true;
    const change = await postJson(`${ctx.apiUrl}/api/governance/kill-switch`, ctx.token, { engaged: !engagedBefore, reason: 'committed while the api restarts' });
    if (change.status !== 200 && change.status !== 202) throw new Error(`kill-switch answered ${change.status}`);
    const version = await waitForVersion(ctx, !engagedBefore);
    const startedAt = now();
    api = await startApi();
    const listeningAt = now();
    const times = await arrivals.wait(version, 120_000);
    const allCurrentAt = Math.max(...times);
    const summaries = await Promise.all(children.map((child) => child.summary()));
    const current = summaries.reduce((sum, summary) => sum + (summary.lastIds[version] ?? 0), 0);
    const missed = options.clients - current;
    const outOfOrder = summaries.reduce((sum, summary) => sum + summary.outOfOrder, 0);
    const reconnects = summaries.reduce((sum, summary) => sum + summary.reconnects, 0);
    const stormSeconds = (allCurrentAt - listeningAt) / 1000;
    rows.push(
      {
        measure: `streams: reconnect storm, new api listening → all ${options.clients.toLocaleString('en-US')} clients current with the change made while it was down (${reconnects.toLocaleString('en-US')} reconnect attempts in all)`,
        value: round(stormSeconds, 2),
        unit: 's',
        target: '< 10 s',
        met: stormSeconds < 10,
      },
      {
        measure: `streams: reconnect storm, SIGTERM → all current: stop (drain) ${round(stopSeconds, 1)} s, new api start ${round((listeningAt - startedAt) / 1000, 1)} s, then the storm`,
        value: round((allCurrentAt - stoppedAt) / 1000, 2),
        unit: 's',
      },
      { measure: 'streams: reconnect storm, clients that missed the change made while the api was down', value: missed, unit: 'clients', target: '0', met: missed === 0 },
      { measure: 'streams: clients that received a version older than one they had (whole step)', value: outOfOrder, unit: 'events', target: '0', met: outOfOrder === 0 },
    );
    process.stderr.write(`bench: streams: open-files limit ${limit}\n`);
  } finally {
    for (const child of children) {
      if (child.child.connected) child.child.send({ type: 'close' });
      else child.child.kill('SIGKILL');
    }
    await listener.end();
    await api.stop();
  }
  return rows;
};

/** The etag of the committed state once the kill switch is `engaged` (the release is applied by the worker). */
const waitForVersion = async (ctx: BenchContext, engaged: boolean): Promise<string> => {
  const deadline = Date.now() + 60_000;
  for (;;) {
    const row = (await ctx.pool.query<{ state: { kill_switch_engaged: boolean; etag: string } }>('SELECT public.governance_live_state() AS state')).rows[0];
    if (row !== undefined && row.state.kill_switch_engaged === engaged) return row.state.etag;
    if (Date.now() > deadline) throw new Error(`the kill switch did not become ${engaged ? 'engaged' : 'released'}`);
    await new Promise((resolve) => setTimeout(resolve, 5));
  }
};
