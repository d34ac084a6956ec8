import { hostname } from 'node:os';
import { deleteWorkerHeartbeat, upsertWorkerHeartbeat, type DatabasePool, type Logger } from '@valhalla/core';

export type Heartbeat = {
  /** Stops the timer (idempotent). */
  stop(): void;
  /** Deletes this worker's row: a worker that stopped cleanly is not listed as live. */
  remove(): Promise<void>;
};

/**
 * Writes this worker's row in worker_heartbeats now and every `intervalMs`. A failed beat is logged and the next
 * one tries again: a database blip must not stop the worker.
 * @throws the database error of the first beat (startup fails when the database is unreachable).
 */
export const startHeartbeat = async (options: {
  pool: DatabasePool;
  workerId: string;
  release: string;
  intervalMs: number;
  log: Logger;
}): Promise<Heartbeat> => {
  const beat = { workerId: options.workerId, release: options.release, pid: process.pid, hostname: hostname(), startedAt: new Date() };
  await upsertWorkerHeartbeat(options.pool, beat);
  let inFlight = false;
  const timer = setInterval(() => {
    if (inFlight) return;
    inFlight = true;
    upsertWorkerHeartbeat(options.pool, beat)
      .catch((err: unknown) => options.log.warn({ err }, 'heartbeat failed'))
      .finally(() => {
        inFlight = false;
      });
  }, options.intervalMs);
  // The timer alone must not keep the process alive.
  timer.unref();
  return {
    stop: () => clearInterval(timer),
    remove: () => deleteWorkerHeartbeat(options.pool, options.workerId),
  };
};
