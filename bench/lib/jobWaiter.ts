import { Queue, QueueEvents } from 'bullmq';

/**
 * Resolves when a job id completes or fails, from BullMQ's event stream (no polling). A worker acknowledges a job
 * only after its transaction committed, so "completed" is an upper bound on "committed".
 */
export const createJobWaiter = async (options: { queues: readonly string[]; prefix: string; redisUrl: string }) => {
  const queues = options.queues.map((name) => new Queue(name, { prefix: options.prefix, connection: { url: options.redisUrl } }));
  const allEvents = options.queues.map((name) => new QueueEvents(name, { prefix: options.prefix, connection: { url: options.redisUrl } }));
  await Promise.all(allEvents.map((events) => events.waitUntilReady()));
  const pending = new Map<string, (at: number) => void>();
  const finished = new Map<string, number>();
  const settle = ({ jobId }: { jobId: string }) => {
    const at = performance.now();
    const resolve = pending.get(jobId);
    if (resolve === undefined) finished.set(jobId, at);
    else {
      pending.delete(jobId);
      resolve(at);
    }
  };
  for (const events of allEvents) {
    events.on('completed', settle);
    events.on('failed', settle);
  }
  return {
    /** The time (performance.now) at which the job finished. */
    finishedAt: (jobId: string, timeoutMs = 60_000): Promise<number> => {
      const done = finished.get(jobId);
      if (done !== undefined) {
        finished.delete(jobId);
        return Promise.resolve(done);
      }
      return new Promise((resolve, reject) => {
        const timer = setTimeout(() => {
          // Say where the job is, so a stuck run explains itself.
          void Promise.all(queues.map((queue) => queue.getJobState(jobId))).then(
            (states) => reject(new Error(`job ${jobId} did not finish in ${timeoutMs} ms (states: ${states.join(', ')})`)),
            () => reject(new Error(`job ${jobId} did not finish in ${timeoutMs} ms`)),
          );
        }, timeoutMs);
        pending.set(jobId, (at) => {
          clearTimeout(timer);
          resolve(at);
        });
      });
    },
    forget: () => finished.clear(),
    close: async () => {
      await Promise.all(allEvents.map((events) => events.close()));
      await Promise.all(queues.map((queue) => queue.close()));
    },
  };
};
