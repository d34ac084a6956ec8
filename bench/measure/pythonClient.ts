import { spawn } from 'node:child_process';
import { join } from 'node:path';
import { listenForEngages } from '../lib/commitListener.ts';
import { REPO_ROOT } from '../lib/environment.ts';
import { postJson } from '../lib/http.ts';
import { percentile, round } from '../lib/stats.ts';
import type { BenchContext, Row } from './context.ts';

const WARM_UP_ENGAGES = 5;

/** A python3 process holding a valhalla_golive client (streaming), reporting each is_live() change with its time. */
const startWatcher = (ctx: BenchContext) => {
  const child = spawn('python3', [join(REPO_ROOT, 'bench/lib/python_live_watcher.py')], {
    env: { PATH: process.env.PATH, HOME: process.env.HOME, PYTHONPATH: join(REPO_ROOT, 'clients/python'), VALHALLA_API_URL: ctx.apiUrl, VALHALLA_TOKEN: ctx.appToken },
    stdio: ['pipe', 'pipe', 'pipe'],
  });
  const reports: { live: boolean; atMs: number }[] = [];
  let ready = false;
  let output = '';
  let buffer = '';
  let wake: () => void = () => {};
  child.stderr.on('data', (chunk: Buffer) => {
    output += chunk.toString();
  });
  child.stdout.on('data', (chunk: Buffer) => {
    buffer += chunk.toString();
    for (let newline = buffer.indexOf('\n'); newline >= 0; newline = buffer.indexOf('\n')) {
      const line = buffer.slice(0, newline).trim();
      buffer = buffer.slice(newline + 1);
      if (line === 'ready') ready = true;
      const [live, , atMs] = line.split(' ');
      if (live === 'True' || live === 'False') reports.push({ live: live === 'True', atMs: Number(atMs) });
    }
    wake();
  });
  /** Resolves with the first report matching, after `from` (an index into the reports), without spinning. */
  const next = (from: number, live: boolean, timeoutMs: number) =>
    new Promise<{ live: boolean; atMs: number }>((resolve, reject) => {
      const check = () => {
        const found = reports.slice(from).find((report) => report.live === live);
        if (found === undefined) return false;
        clearTimeout(timer);
        wake = () => {};
        resolve(found);
        return true;
      };
      const timer = setTimeout(() => {
        wake = () => {};
        reject(new Error(`the Python client did not report live=${String(live)} within ${timeoutMs} ms: ${output.slice(-2000)}`));
      }, timeoutMs);
      wake = () => void check();
      check();
    });
  const readyPromise = new Promise<void>((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`the Python client did not start: ${output.slice(-2000)}`)), 30_000);
    const poll = setInterval(() => {
      if (!ready) return;
      clearInterval(poll);
      clearTimeout(timer);
      resolve();
    }, 20);
  });
  return {
    ready: () => readyPromise,
    reportCount: () => reports.length,
    next,
    stop: async () => {
      child.stdin.end();
      await new Promise<void>((resolve) => {
        if (child.exitCode !== null) return resolve();
        const timer = setTimeout(() => child.kill('SIGKILL'), 10_000);
        child.once('exit', () => {
          clearTimeout(timer);
          resolve();
        });
      });
    },
  };
};

/**
 * (python) Engage POST → the Python client's is_live() is false, over its stream: from just before the POST to the
 * moment the client applied the state (its time.time(), the same system clock as the bench's Date.now()).
 */
export const measurePythonClient = async (ctx: BenchContext, options: { engages: number }): Promise<Row[]> => {
  await ctx.pool.query('UPDATE public.go_live_state SET go_live_enabled = true WHERE id = 1');
  const watcher = startWatcher(ctx);
  const commits = await listenForEngages(ctx.databaseUrl);
  const samples: number[] = [];
  const afterCommit: number[] = [];
  try {
    await watcher.ready();
    for (let i = -WARM_UP_ENGAGES; i < options.engages; i += 1) {
      const beforeRelease = watcher.reportCount();
      await postJson(`${ctx.apiUrl}/api/governance/kill-switch`, ctx.token, { engaged: false, reason: `bench python release ${i}` });
      await watcher.next(beforeRelease, true, 30_000);
      const beforeEngage = watcher.reportCount();
      commits.reset();
      const started = Date.now();
      await postJson(`${ctx.apiUrl}/api/governance/kill-switch`, ctx.token, { engaged: true, reason: `bench python engage ${i}` });
      const seen = await watcher.next(beforeEngage, false, 30_000);
      if (i < 0) continue;
      samples.push(seen.atMs - started);
      const committed = commits.engagedAt();
      if (committed !== undefined) afterCommit.push(seen.atMs - committed);
    }
  } finally {
    await watcher.stop();
    await commits.close();
  }
  const p99 = percentile(samples, 99);
  return [
    { measure: 'engage POST → Python client (valhalla_golive, stream) is_live() false, p50', value: round(percentile(samples, 50)), unit: 'ms' },
    {
      measure: `  of which commit (NOTIFY seen by a listener) → Python is_live() false, p50 / p99: ${round(percentile(afterCommit, 50))} / ${round(percentile(afterCommit, 99))} ms`,
      value: round(percentile(afterCommit, 99)),
      unit: 'ms',
    },
    {
      measure: `engage POST → Python client is_live() false, p99 (${options.engages} engages)`,
      value: round(p99),
      unit: 'ms',
      target: '< 100 ms',
      met: p99 < 100,
    },
  ];
};
