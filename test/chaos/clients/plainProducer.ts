import { setTimeout as sleep } from 'node:timers/promises';
import { Queue } from 'bullmq';
import { Redis } from 'ioredis';
import { JOB_CATALOG, JOB_NAMES, QUEUES, queueForJob, type QueueName } from '../../../packages/contract/src/index.js';
import type { Random } from '../random.js';
import { pickChangeKind, jobPayloadFor, type ChangeKind } from './changeMix.js';

/** The actor a plain producer names in its jobs (a service that enqueues directly names itself). */
const PLAIN_ACTOR = 'chaos-plain-producer';

/** One job the plain producer tried to add. */
export type PlainJobRecord = {
  n: number;
  kind: Exclude<ChangeKind, 'verify'>;
  queue: QueueName;
  reason: string;
  addedAt: number;
  /** Redis confirmed the add: BullMQ's counter id and the job's creation time (its identity is `<id>@<timestamp>`). */
  ack: { jobId: string; timestamp: number; at: number } | undefined;
  /** The add failed or was not confirmed in time (it may still have reached Redis). */
  error: string | undefined;
};

export type PlainProducer = { readonly records: readonly PlainJobRecord[]; stop: () => Promise<void> };

const ADD_TIMEOUT_MS = 10_000;

/**
 * A producer that adds go-live-change jobs straight to the queues with plain BullMQ, as another service may: no job
 * id (BullMQ's counter), the priority the job contract gives, engages and disables on `governance-safety`. Its
 * connection fails fast while Redis is away (no offline queue): an add then fails instead of waiting.
 */
export const startPlainProducer = (options: { redisUrl: string; jobsPerSecond: number; runId: string; random: Random }): PlainProducer => {
  const records: PlainJobRecord[] = [];
  const connection = new Redis(options.redisUrl, { enableOfflineQueue: false, maxRetriesPerRequest: 1 });
  connection.on('error', () => {});
  const queues = new Map<QueueName, Queue>(
    [QUEUES.governance, QUEUES.governanceSafety].map((name) => {
      const queue = new Queue(name, { connection });
      queue.on('error', () => {});
      return [name, queue];
    }),
  );
  let stopping = false;
  const intervalMs = options.jobsPerSecond > 0 ? 1_000 / options.jobsPerSecond : 0;

  const addOne = async (n: number) => {
    const kind = pickChangeKind(options.random, { verify: false }) as Exclude<ChangeKind, 'verify'>;
    const reason = `chaos ${options.runId} p-${n} ${kind}`;
    const payload = jobPayloadFor(kind, PLAIN_ACTOR, reason, options.random);
    const queueName = queueForJob(JOB_NAMES.goLiveChange, payload);
    const record: PlainJobRecord = { n, kind, queue: queueName, reason, addedAt: Date.now(), ack: undefined, error: undefined };
    records.push(record);
    const queue = queues.get(queueName) as Queue;
    let timer: NodeJS.Timeout | undefined;
    try {
      const job = await Promise.race([
        queue.add(JOB_NAMES.goLiveChange, payload, { priority: JOB_CATALOG[JOB_NAMES.goLiveChange].priority(payload) }),
        new Promise<never>((_, reject) => {
          timer = setTimeout(() => reject(new Error(`add not confirmed within ${ADD_TIMEOUT_MS} ms`)), ADD_TIMEOUT_MS);
        }),
      ]);
      if (job.id === undefined) throw new Error('BullMQ returned a job without an id');
      record.ack = { jobId: job.id, timestamp: job.timestamp, at: Date.now() };
    } catch (error) {
      record.error = error instanceof Error ? error.message : String(error);
    } finally {
      clearTimeout(timer);
    }
  };

  const running = (async () => {
    if (intervalMs === 0) return;
    let due = Date.now();
    for (let n = 1; !stopping; n += 1) {
      await addOne(n);
      // Paced on a schedule; slots missed while an add hung (Redis away) are skipped, not made up in a burst.
      due = Math.max(due + intervalMs, Date.now());
      await sleep(Math.max(0, due - Date.now()));
    }
  })();

  return {
    records,
    stop: async () => {
      stopping = true;
      await running;
      await Promise.allSettled([...queues.values()].map((queue) => queue.close()));
      connection.disconnect();
    },
  };
};
