import { sql, type CommonQueryMethods } from 'slonik';
import { z } from 'zod';
import { heartbeatRow, type WorkerHeartbeat } from '@valhalla/contract';

export const upsertWorkerHeartbeat = async (
  db: CommonQueryMethods,
  beat: { workerId: string; release: string; pid: number; hostname: string; startedAt: Date },
): Promise<void> => {
  await db.query(sql.unsafe`
    INSERT INTO public.worker_heartbeats (worker_id, release, pid, hostname, started_at, last_seen_at)
    VALUES (${beat.workerId}, ${beat.release}, ${beat.pid}, ${beat.hostname}, ${beat.startedAt.toISOString()}, now())
    ON CONFLICT (worker_id) DO UPDATE SET last_seen_at = now()
  `);
};

export const deleteWorkerHeartbeat = async (db: CommonQueryMethods, workerId: string): Promise<void> => {
  await db.query(sql.unsafe`DELETE FROM public.worker_heartbeats WHERE worker_id = ${workerId}`);
};

/** Workers seen within `withinMs`, newest first. A worker that stopped cleanly deletes its own row. */
export const listLiveWorkers = async (db: CommonQueryMethods, withinMs: number): Promise<WorkerHeartbeat[]> => {
  return [
    ...(await db.any(sql.type(heartbeatRow)`
      SELECT worker_id, release, pid, hostname, started_at, last_seen_at FROM public.worker_heartbeats
      WHERE last_seen_at >= now() - make_interval(secs => ${withinMs / 1000})
      ORDER BY last_seen_at DESC
    `)),
  ];
};

/** Seconds since the newest heartbeat of any worker, or null when no worker has one (none started, or all stopped). */
export const newestHeartbeatAgeSeconds = async (db: CommonQueryMethods): Promise<number | null> =>
  db.oneFirst(sql.type(z.object({ age: z.number().nullable() }))`
    SELECT extract(epoch FROM now() - max(last_seen_at))::float8 AS age FROM public.worker_heartbeats
  `);
