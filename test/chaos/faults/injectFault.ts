import { readdir, rm } from 'node:fs/promises';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { sql, type DatabasePool } from '../../../packages/core/src/index.js';
import type { ChaosCluster } from '../cluster/startChaosCluster.js';
import { retryDatabase } from '../retryDatabase.js';
import type { Random } from '../random.js';
import { FAULT_KINDS, type FaultKind, type FaultRecord } from './faultKinds.js';

export type FaultContext = {
  cluster: ChaosCluster;
  /** The suite's own connection (not through a proxy, application name outside the product's). */
  pool: DatabasePool;
  random: Random;
  /** Compresses durations for short runs (see ChaosOptions.faultScale). */
  scale: number;
  signal: AbortSignal;
};

/** Sessions the product opened (its pools and the api's live-state listener name themselves valhalla-*). */
const terminateProductSessions = async (pool: DatabasePool): Promise<number> =>
  (await pool.oneFirst(sql.unsafe`
    SELECT count(*) FILTER (WHERE pg_terminate_backend(pid))::int AS terminated FROM pg_stat_activity
    WHERE datname = current_database() AND application_name LIKE 'valhalla-%' AND pid <> pg_backend_pid()
  `)) as number;

/** Accepted jobs neither settled nor void, accepted before `before` (ms): what only PostgreSQL still knows of. */
const openAcceptancesBefore = async (pool: DatabasePool, before: number): Promise<string[]> =>
  (await pool.anyFirst(sql.unsafe`
    SELECT job_id FROM public.governance_accepted_jobs
    WHERE settled_at IS NULL AND voided_at IS NULL AND accepted_at <= to_timestamp(${before / 1000})
  `)) as string[];

const FREEZE_MS = 10_000;

const seconds = (ms: number) => `${(ms / 1000).toFixed(1)} s`;

/**
 * Injects one fault and ends it (the process restarted, the database given back, Redis up again), resolving with its
 * record once the fault is over.
 * @throws when the cluster did not recover from it (a process not ready in time); the caller records and recovers.
 */
export const injectFault = async (kind: FaultKind, context: FaultContext): Promise<FaultRecord> => {
  const { cluster, random, scale, signal } = context;
  const startedAt = Date.now();
  const record = (targets: string[], detail: string, extra: Partial<FaultRecord> = {}): FaultRecord => ({
    kind,
    targets,
    startedAt,
    endedAt: Date.now(),
    detail,
    ...extra,
  });
  switch (kind) {
    case FAULT_KINDS.workerKill:
    case FAULT_KINDS.apiKill: {
      const target = random.pick(kind === FAULT_KINDS.apiKill ? cluster.apis : cluster.workers);
      await target.kill();
      await target.start();
      return record([target.name], `${target.name} killed, ready again after ${seconds(Date.now() - startedAt)}`);
    }
    case FAULT_KINDS.workerFreeze: {
      const target = random.pick(cluster.workers);
      // Not scaled: the freeze of the issue (a VM pause, a long collection), far beyond the product's bound on a
      // transaction idle on row 1.
      const frozenMs = FREEZE_MS;
      target.freeze();
      try {
        await sleep(frozenMs, undefined, { signal }).catch(() => undefined);
      } finally {
        target.resume();
      }
      return record([target.name], `${target.name} frozen for ${seconds(Date.now() - startedAt)}`);
    }
    case FAULT_KINDS.databaseCut: {
      const targets = random.next() < 0.5 ? cluster.processes : [random.pick(cluster.processes)];
      const cutMs = Math.round(random.between(5_000, 15_000) * scale);
      for (const target of targets) await target.link.cut();
      try {
        await sleep(cutMs, undefined, { signal }).catch(() => undefined);
      } finally {
        for (const target of targets) await target.link.restore();
      }
      const scope = targets.length === cluster.processes.length ? 'every process' : targets.map((target) => target.name).join(', ');
      return record(targets.map((target) => target.name), `PostgreSQL cut for ${scope} for ${seconds(Date.now() - startedAt)}`);
    }
    case FAULT_KINDS.databaseTerminate: {
      const terminated = await retryDatabase(() => terminateProductSessions(context.pool));
      return record(['postgresql'], `${terminated} sessions of the product terminated`);
    }
    case FAULT_KINDS.redisRestartAof: {
      await cluster.redis.kill();
      await cluster.redis.restart();
      return record(['redis'], `Redis killed and back from its append-only file after ${seconds(Date.now() - startedAt)}`);
    }
    case FAULT_KINDS.redisRestartEmpty: {
      await cluster.redis.kill();
      // Everything Redis kept: the append-only directory and any RDB snapshot.
      for (const entry of await readdir(cluster.redisDir)) await rm(join(cluster.redisDir, entry), { recursive: true, force: true });
      await cluster.redis.restart();
      const backAt = Date.now();
      const openAcceptances = await retryDatabase(() => openAcceptancesBefore(context.pool, backAt));
      return record(['redis'], `Redis killed and started empty after ${seconds(Date.now() - startedAt)}; ${openAcceptances.length} accepted jobs were then only in PostgreSQL`, { openAcceptances });
    }
    default: {
      const exhaustive: never = kind;
      throw new Error(`unknown fault kind ${String(exhaustive)}`);
    }
  }
};
