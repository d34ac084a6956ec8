import pg from 'pg';
import { LIVE_STATE_CHANNEL } from '@valhalla/core';
import { GOVERNANCE_CHANGE_QUEUES, JOB_CATALOG, JOB_NAMES } from '@valhalla/contract';
import { postJson } from '../lib/http.ts';
import { createJobWaiter } from '../lib/jobWaiter.ts';
import { percentile, round } from '../lib/stats.ts';
import type { BenchContext, Row } from './context.ts';

const BACKLOG = 5_000;

/**
 * Resolves with the time of the next state notification whose kill switch is `engaged`: PostgreSQL delivers the
 * change's NOTIFY only after its commit, so this is when the change was committed (and what the api's live state sees).
 */
const createCommitWatcher = async (databaseUrl: string) => {
  const client = new pg.Client({ connectionString: databaseUrl });
  await client.connect();
  let expected: { engaged: boolean; resolve: (at: number) => void } | undefined;
  client.on('notification', (message) => {
    const at = performance.now();
    if (expected === undefined || message.channel !== LIVE_STATE_CHANNEL) return;
    const state = JSON.parse(message.payload ?? '{}') as { kill_switch_engaged?: boolean };
    if (state.kill_switch_engaged !== expected.engaged) return;
    expected.resolve(at);
    expected = undefined;
  });
  await client.query(`LISTEN ${LIVE_STATE_CHANNEL}`);
  return {
    /** Arms the watcher before the request is sent, so a fast commit is not missed. */
    expect: (engaged: boolean, timeoutMs = 30_000): Promise<number> =>
      new Promise((resolve, reject) => {
        const timer = setTimeout(() => reject(new Error(`no state notification with kill_switch_engaged=${engaged} in ${timeoutMs} ms`)), timeoutMs);
        expected = {
          engaged,
          resolve: (at) => {
            clearTimeout(timer);
            resolve(at);
          },
        };
      }),
    close: () => client.end(),
  };
};

/**
 * (3) Latency from the HTTP request to the committed change: an idle single change (committed: its state
 * notification; completed: BullMQ's completion event, after the worker acknowledged it), and a kill-switch engage
 * posted behind a backlog of queued enables and releases (kept topped up to the backlog size before each sample).
 */
export const measureLatency = async (ctx: BenchContext): Promise<Row[]> => {
  const waiter = await createJobWaiter({ queues: GOVERNANCE_CHANGE_QUEUES, prefix: ctx.prefix, redisUrl: ctx.redisUrl });
  const commits = await createCommitWatcher(ctx.databaseUrl);
  try {
    const idleSamples = ctx.quick ? 30 : 500;
    const idle: number[] = [];
    const idleCompleted: number[] = [];
    // Alternating engages and releases from the state the earlier steps left: each sample changes the state.
    let engaged = !(await ctx.pool.query<{ k: boolean }>('SELECT kill_switch_engaged AS k FROM public.go_live_state WHERE id = 1')).rows[0]?.k;
    for (let i = 0; i < idleSamples; i += 1) {
      const committed = commits.expect(engaged);
      const started = performance.now();
      const response = await postJson(`${ctx.apiUrl}/api/governance/kill-switch`, ctx.token, { engaged, reason: `idle ${i}` });
      // An engage is applied in the request (200): its answer is its completion.
      const finished = response.status === 200 ? performance.now() : await waiter.finishedAt(String(response.body.jobId));
      idle.push((await committed) - started);
      idleCompleted.push(finished - started);
      engaged = !engaged;
    }

    const backlog = ctx.quick ? 300 : BACKLOG;
    const backlogSamples = ctx.quick ? 5 : 50;
    const options = JOB_CATALOG[JOB_NAMES.goLiveChange].options;
    let serial = 0;
    const topUp = async () => {
      const counts = await ctx.governanceQueue.getJobCounts('prioritized', 'waiting');
      const missing = backlog - (counts.prioritized ?? 0) - (counts.waiting ?? 0);
      if (missing <= 0) return;
      const jobs = Array.from({ length: missing }, () => {
        serial += 1;
        const data = { action: serial % 2 === 0 ? 'go_live.enable' : 'kill_switch.release', actor: 'bench', reason: `backlog ${serial}` } as const;
        return { name: JOB_NAMES.goLiveChange, data, opts: options(data) };
      });
      await ctx.governanceQueue.addBulk(jobs);
    };
    const behindBacklog: number[] = [];
    for (let i = 0; i < backlogSamples; i += 1) {
      await topUp();
      const started = performance.now();
      const response = await postJson(`${ctx.apiUrl}/api/governance/kill-switch`, ctx.token, { engaged: true, reason: `engage behind backlog ${i}` });
      if (response.status !== 200) throw new Error(`engage answered ${response.status} ${JSON.stringify(response.body)}`);
      const finished = performance.now();
      behindBacklog.push(finished - started);
    }
    await ctx.governanceQueue.drain();
    waiter.forget();

    return [
      {
        measure: 'idle change latency p50 (HTTP → committed: its state notification)',
        value: round(percentile(idle, 50)),
        unit: 'ms',
        ...(ctx.quick ? {} : { target: '< 5 ms', met: percentile(idle, 50) < 5 }),
      },
      { measure: 'idle change latency p95', value: round(percentile(idle, 95)), unit: 'ms' },
      { measure: 'idle change latency p99', value: round(percentile(idle, 99)), unit: 'ms' },
      { measure: 'idle change, HTTP → job completed (acknowledged after the commit) p50', value: round(percentile(idleCompleted, 50)), unit: 'ms' },
      { measure: `kill switch behind ${backlog} queued changes p50`, value: round(percentile(behindBacklog, 50)), unit: 'ms' },
      {
        measure: `kill switch behind ${backlog} queued changes p99`,
        value: round(percentile(behindBacklog, 99)),
        unit: 'ms',
        ...(ctx.quick ? {} : { target: '< 20 ms', met: percentile(behindBacklog, 99) < 20 }),
      },
    ];
  } finally {
    await waiter.close();
    await commits.close();
  }
};
