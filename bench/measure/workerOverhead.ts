import { randomUUID } from 'node:crypto';
import { Queue, Worker, type Job } from 'bullmq';
import { createLogger } from '@valhalla/core';
import { JOB_CATALOG, JOB_NAMES, type ChangeResult } from '@valhalla/contract';
import { createChangeBatcher, createGoLiveChangeProcessor, withJobLogging } from '@valhalla/worker';
import { rawChangeTransaction } from '../lib/rawChange.ts';
import { median, round } from '../lib/stats.ts';
import type { BenchContext, Row } from './context.ts';

const snapshot = { go_live_enabled: false, kill_switch_engaged: true, live: false, version: '1.0.0', backend_complete: false, notes: null };

/**
 * (4) The worker's own processing path (payload validation, job logging, result and error mapping) with its database
 * step replaced by the raw transaction, against a raw BullMQ worker doing the same transaction. Both consume the same
 * number of pre-queued jobs at the same concurrency, in process, on queues of their own; rounds alternate.
 */
export const measureWorkerOverhead = async (ctx: BenchContext): Promise<Row[]> => {
  const jobs = ctx.quick ? 300 : 3_000;
  const logger = createLogger({ name: 'bench-worker', level: 'warn' });
  const rawStep = async (jobId: string, engage: boolean): Promise<ChangeResult> => {
    const client = await ctx.pool.connect();
    try {
      await rawChangeTransaction(client, `${jobId}-${randomUUID()}`, engage);
    } finally {
      client.release();
    }
    return { outcome: 'applied', action: engage ? 'kill_switch.engage' : 'kill_switch.release', auditId: 0, before: snapshot, after: snapshot, unmet: [] };
  };
  const productProcessor = withJobLogging(
    logger,
    createGoLiveChangeProcessor({
      // The batcher's applier replaced by the raw transaction, one per member: this row measures the path around it.
      batcher: createChangeBatcher({
        maxBatch: 64,
        apply: async (requests) =>
          Promise.all(
            requests.map(async (request) => ({
              ok: true as const,
              execution: { result: await rawStep(request.jobId, request.payload.action === 'kill_switch.engage'), replayed: false },
            })),
          ),
      }),
    }),
  );
  const rawProcessor = async (job: Job) => rawStep(String(job.id), (job.data as { action: string }).action === 'kill_switch.engage');

  const consume = async (queueName: string, processor: (job: Job) => Promise<unknown>): Promise<number> => {
    const connection = { url: ctx.redisUrl };
    const queue = new Queue(queueName, { prefix: ctx.prefix, connection });
    const options = JOB_CATALOG[JOB_NAMES.goLiveChange].options;
    await queue.addBulk(
      Array.from({ length: jobs }, (_, i) => {
        const data = { action: i % 2 === 0 ? 'kill_switch.engage' : 'kill_switch.release', actor: 'bench', reason: `overhead ${i}` } as const;
        return { name: JOB_NAMES.goLiveChange, data, opts: { ...options(data), removeOnComplete: true } };
      }),
    );
    let completed = 0;
    let allDone: () => void = () => {};
    const done = new Promise<void>((resolve) => {
      allDone = resolve;
    });
    const started = performance.now();
    const worker = new Worker(queueName, processor, {
      prefix: ctx.prefix,
      connection: { url: ctx.redisUrl, maxRetriesPerRequest: null },
      concurrency: ctx.concurrency,
    });
    worker.on('completed', () => {
      completed += 1;
      if (completed === jobs) allDone();
    });
    worker.on('failed', (_job, error) => process.stderr.write(`bench worker job failed: ${error.message}\n`));
    await done;
    const rate = jobs / ((performance.now() - started) / 1000);
    await worker.close();
    await queue.obliterate({ force: true });
    await queue.close();
    return rate;
  };

  const product: number[] = [];
  const raw: number[] = [];
  for (let round_ = 0; round_ < ctx.rounds; round_ += 1) {
    product.push(await consume(`bench-overhead-product-${round_}`, productProcessor));
    raw.push(await consume(`bench-overhead-raw-${round_}`, rawProcessor));
  }
  const rate = median(product);
  const baseline = median(raw);
  return [
    {
      measure: `worker processing path with the raw transaction (${jobs} jobs, concurrency ${ctx.concurrency})`,
      value: round(rate, 0),
      unit: 'jobs/s',
      baseline: round(baseline, 0),
      ratio: round(rate / baseline),
    },
  ];
};
