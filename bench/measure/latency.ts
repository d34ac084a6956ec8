import pg from 'pg';
import { LIVE_STATE_CHANNEL } from '@valhalla/core';
import { GOVERNANCE_CHANGE_QUEUES } from '@valhalla/contract';
import { createBacklog } from '../lib/backlog.ts';
import { postJson } from '../lib/http.ts';
import { createJobWaiter } from '../lib/jobWaiter.ts';
import { floorRow, type FloorRound } from '../lib/floorRow.ts';
import { timeRawChanges } from '../lib/rawFloor.ts';
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
 * (3) Latency from the HTTP request to the committed change: an idle single change against the raw single
 * transaction (issue 23: p50 ≤ 5× the raw p50), and a kill-switch engage posted behind a backlog of queued enables and
 * releases (kept topped up to the backlog size before each sample). The idle change is a release: recorded in
 * PostgreSQL, queued, applied by the worker (committed: its state notification; completed: BullMQ's completion event,
 * after the worker acknowledged it). Each sample is a pair, side by side: the raw transaction engages the switch
 * (timed: the floor), then the api releases it, so every change changes the state.
 */
export const measureLatency = async (ctx: BenchContext): Promise<Row[]> => {
  const waiter = await createJobWaiter({ queues: GOVERNANCE_CHANGE_QUEUES, prefix: ctx.prefix, redisUrl: ctx.redisUrl });
  const commits = await createCommitWatcher(ctx.databaseUrl);
  try {
    const idleSamples = ctx.quick ? 30 : 500;
    const rounds: FloorRound[] = [];
    const idleCompleted: number[] = [];
    const idleAccepted: number[] = [];
    // The raw transaction toggles the switch: released first, so that each of its samples engages it.
    const engaged = await ctx.pool.query<{ k: boolean }>('SELECT kill_switch_engaged AS k FROM public.go_live_state WHERE id = 1');
    if (engaged.rows[0]?.k === true) await timeRawChanges(ctx.pool, 1);
    for (let r = 0; r < ctx.rounds; r += 1) {
      const idle: number[] = [];
      const raw: number[] = [];
      for (let i = 0; i < idleSamples; i += 1) {
        raw.push(...(await timeRawChanges(ctx.pool, 1)));
        const committed = commits.expect(false);
        const started = performance.now();
        const response = await postJson(`${ctx.apiUrl}/api/governance/kill-switch`, ctx.token, { engaged: false, reason: `idle ${r}.${i}` });
        idleAccepted.push(performance.now() - started);
        if (response.status !== 202) throw new Error(`release answered ${response.status} ${JSON.stringify(response.body)}`);
        const finished = await waiter.finishedAt(String(response.body.jobId));
        idle.push((await committed) - started);
        idleCompleted.push(finished - started);
      }
      rounds.push({ product: idle, raw });
    }
    const idle = rounds.flatMap((r) => r.product);

    const backlog = ctx.quick ? 300 : BACKLOG;
    const backlogSamples = ctx.quick ? 5 : 50;
    const queued = createBacklog(ctx.governanceQueue, { size: backlog });
    const behindBacklog: number[] = [];
    for (let i = 0; i < backlogSamples; i += 1) {
      await queued.topUp();
      const started = performance.now();
      const response = await postJson(`${ctx.apiUrl}/api/governance/kill-switch`, ctx.token, { engaged: true, reason: `engage behind backlog ${i}` });
      if (response.status !== 200) throw new Error(`engage answered ${response.status} ${JSON.stringify(response.body)}`);
      const finished = performance.now();
      behindBacklog.push(finished - started);
    }
    await queued.drain();
    waiter.forget();

    return [
      floorRow({
        measure: `idle change latency p50 of ${idle.length} (a release: HTTP → accepted → queued → committed, its state notification; raw: the same change in one transaction)`,
        rounds,
        p: 50,
        maxRatio: 5,
        quick: ctx.quick,
      }),
      { measure: 'idle change latency p95', value: round(percentile(idle, 95)), unit: 'ms' },
      { measure: 'idle change latency p99', value: round(percentile(idle, 99)), unit: 'ms' },
      { measure: 'idle change, HTTP → 202 (the acceptance record committed, the job enqueued) p50', value: round(percentile(idleAccepted, 50)), unit: 'ms' },
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
