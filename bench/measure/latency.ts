import { GOVERNANCE_CHANGE_QUEUES, JOB_CATALOG, JOB_NAMES } from '@valhalla/core';
import { postJson } from '../lib/http.ts';
import { createJobWaiter } from '../lib/jobWaiter.ts';
import { percentile, round } from '../lib/stats.ts';
import type { BenchContext, Row } from './context.ts';

const BACKLOG = 5_000;

/**
 * (3) Latency from the HTTP request to the committed change: an idle single change, and a kill-switch engage posted
 * behind a backlog of queued enables and releases (kept topped up to the backlog size before each sample).
 */
export const measureLatency = async (ctx: BenchContext): Promise<Row[]> => {
  const waiter = await createJobWaiter({ queues: GOVERNANCE_CHANGE_QUEUES, prefix: ctx.prefix, redisUrl: ctx.redisUrl });
  try {
    const idleSamples = ctx.quick ? 30 : 500;
    const idle: number[] = [];
    for (let i = 0; i < idleSamples; i += 1) {
      const started = performance.now();
      const response = await postJson(`${ctx.apiUrl}/api/governance/kill-switch`, ctx.token, { engaged: i % 2 === 0, reason: `idle ${i}` });
      const finished = await waiter.finishedAt(String(response.body.jobId));
      idle.push(finished - started);
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
      const finished = await waiter.finishedAt(String(response.body.jobId));
      behindBacklog.push(finished - started);
    }
    await ctx.governanceQueue.drain();
    waiter.forget();

    return [
      {
        measure: 'idle change latency p50 (HTTP → committed)',
        value: round(percentile(idle, 50)),
        unit: 'ms',
        ...(ctx.quick ? {} : { target: '< 5 ms', met: percentile(idle, 50) < 5 }),
      },
      { measure: 'idle change latency p95', value: round(percentile(idle, 95)), unit: 'ms' },
      { measure: 'idle change latency p99', value: round(percentile(idle, 99)), unit: 'ms' },
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
  }
};
