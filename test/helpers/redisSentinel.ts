import { spawn, type ChildProcess } from 'node:child_process';
import { mkdir, mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Redis } from 'ioredis';
import type { RedisEndpoint } from '../../packages/core/src/index.js';
import { track } from './leaks.js';
import { freePort } from './redisServer.js';
import { waitFor } from './waitFor.js';

/** The group name the test's sentinels monitor (REDIS_SENTINEL_MASTER). */
export const SENTINEL_MASTER_NAME = 'valhalla';

export type FailoverKind = 'sentinel-failover' | 'freeze' | 'kill';

export type OwnSentinelGroup = {
  sentinels: RedisEndpoint[];
  /** REDIS_SENTINELS for these sentinels. */
  sentinelsEnv: string;
  /** The port of the primary as every sentinel reports it (they agree). */
  primaryPort: () => Promise<number>;
  /**
   * Fails the primary over: `sentinel-failover` (SENTINEL FAILOVER: the old primary stays up, becomes a replica, and
   * the sentinels close its clients' connections), `freeze` (SIGSTOP of the primary, as a VM pause or a network
   * partition looks: its connections stay open and unanswered; the sentinels elect the replica) or `kill` (SIGKILL).
   * A primary frozen earlier is let run first (the partition heals: the sentinels make it a replica). Resolves with
   * the new primary's port and the moment (performance.now()) its ROLE was first seen as master, once every sentinel
   * names it.
   */
  failOver: (how: FailoverKind) => Promise<{ port: number; promotedAt: number }>;
  stop: () => Promise<void>;
};

const askServer = async <T>(port: number, ask: (redis: Redis) => Promise<T>): Promise<T> => {
  const redis = new Redis({ port, host: '127.0.0.1', lazyConnect: true, maxRetriesPerRequest: 0, retryStrategy: () => null, commandTimeout: 2_000 });
  redis.on('error', () => {});
  try {
    await redis.connect();
    return await ask(redis);
  } finally {
    redis.disconnect();
  }
};

/** `SENTINEL <subcommand>` answers as lists of alternating field names and values. */
const fieldsOf = (entry: unknown): Record<string, string> => {
  const list = entry as string[];
  const fields: Record<string, string> = {};
  for (let i = 0; i + 1 < list.length; i += 2) fields[list[i] as string] = list[i + 1] as string;
  return fields;
};

/**
 * A Sentinel group of the test's own: a primary, one replica and three sentinels (Debian's redis-sentinel), each on a
 * free port with its own config file in a temp dir, quorum 2, a primary judged down after 1 s. No persistence,
 * noeviction. `stop()` kills everything and removes the dir.
 */
export const startSentinelGroup = async (): Promise<OwnSentinelGroup> => {
  const dir = await mkdtemp(join(tmpdir(), 'valhalla-sentinel-'));
  const ports = new Set<number>();
  while (ports.size < 5) ports.add(await freePort());
  const [primaryPort, replicaPort, ...sentinelPorts] = [...ports] as [number, number, ...number[]];
  const servers = new Map<number, ChildProcess>();
  const children: ChildProcess[] = [];
  const isRunning = (child: ChildProcess) => child.exitCode === null && child.signalCode === null;
  const kill = (child: ChildProcess) =>
    new Promise<void>((resolve) => {
      if (!isRunning(child)) return resolve();
      child.once('exit', () => resolve());
      // A frozen process takes SIGKILL too; SIGCONT first keeps the exit prompt either way.
      child.kill('SIGCONT');
      child.kill('SIGKILL');
    });
  const stop = async () => {
    await Promise.all(children.map(kill));
    await rm(dir, { recursive: true, force: true });
  };
  const ping = (port: number) => askServer(port, async (redis) => (await redis.ping()) === 'PONG');
  try {
    for (const port of [primaryPort, replicaPort]) {
      const serverDir = join(dir, `redis-${port}`);
      await mkdir(serverDir);
      const args = ['--port', String(port), '--bind', '127.0.0.1', '--dir', serverDir, '--save', '', '--appendonly', 'no', '--maxmemory-policy', 'noeviction'];
      if (port === replicaPort) args.push('--replicaof', '127.0.0.1', String(primaryPort));
      const child = spawn('redis-server', args, { stdio: 'ignore' });
      servers.set(port, child);
      children.push(child);
      await waitFor(() => ping(port), { timeoutMs: 10_000, description: `redis-server on ${port}` });
    }
    await waitFor(
      () => askServer(replicaPort, async (redis) => /master_link_status:up/.test(await redis.info('replication'))),
      { timeoutMs: 15_000, description: 'the replica to sync with the primary' },
    );
    for (const port of sentinelPorts) {
      const sentinelDir = join(dir, `sentinel-${port}`);
      await mkdir(sentinelDir);
      const config = join(sentinelDir, 'sentinel.conf');
      // Sentinel rewrites its config file as it learns the group: each one has its own, writable.
      await writeFile(
        config,
        [
          `port ${port}`,
          'bind 127.0.0.1',
          'protected-mode no',
          'daemonize no',
          `dir ${sentinelDir}`,
          `sentinel monitor ${SENTINEL_MASTER_NAME} 127.0.0.1 ${primaryPort} 2`,
          `sentinel down-after-milliseconds ${SENTINEL_MASTER_NAME} 1000`,
          `sentinel failover-timeout ${SENTINEL_MASTER_NAME} 5000`,
          `sentinel parallel-syncs ${SENTINEL_MASTER_NAME} 1`,
          '',
        ].join('\n'),
      );
      children.push(spawn('redis-sentinel', [config], { stdio: 'ignore' }));
    }
    // Ready when every sentinel knows the replica (in sync) and the two other sentinels: a failover can be agreed.
    for (const port of sentinelPorts) {
      await waitFor(
        () =>
          askServer(port, async (redis) => {
            const replicas = ((await redis.call('SENTINEL', 'REPLICAS', SENTINEL_MASTER_NAME)) as unknown[]).map(fieldsOf);
            const others = (await redis.call('SENTINEL', 'SENTINELS', SENTINEL_MASTER_NAME)) as unknown[];
            return replicas.some((replica) => replica['master-link-status'] === 'ok' && !/s_down|disconnected/.test(replica.flags ?? '')) && others.length === 2;
          }),
        { timeoutMs: 30_000, intervalMs: 100, description: `sentinel ${port} to know the replica and the other sentinels` },
      );
    }

    const reportedPrimaries = async () =>
      Promise.all(
        sentinelPorts.map((port) =>
          askServer(port, async (redis) => Number(((await redis.call('SENTINEL', 'GET-MASTER-ADDR-BY-NAME', SENTINEL_MASTER_NAME)) as string[])[1])),
        ),
      );
    const currentPrimary = async () => {
      const reported = await reportedPrimaries();
      if (new Set(reported).size !== 1) throw new Error(`the sentinels disagree on the primary: ${reported.join(', ')}`);
      return reported[0] as number;
    };
    let frozen: ChildProcess | undefined;
    const failOver = async (how: FailoverKind) => {
      frozen?.kill('SIGCONT');
      frozen = undefined;
      const old = await currentPrimary();
      const next = old === primaryPort ? replicaPort : primaryPort;
      await waitFor(
        () => askServer(next, async (redis) => /master_link_status:up/.test(await redis.info('replication'))),
        { timeoutMs: 45_000, intervalMs: 100, description: `the replica on ${next} to be in sync before the failover` },
      );
      const oldServer = servers.get(old) as ChildProcess;
      if (how === 'kill') await kill(oldServer);
      else if (how === 'freeze') {
        frozen = oldServer;
        oldServer.kill('SIGSTOP');
      } else await askServer(sentinelPorts[0] as number, (redis) => redis.call('SENTINEL', 'FAILOVER', SENTINEL_MASTER_NAME));
      const promotedAt = (await waitFor(
        () => askServer(next, async (redis) => (((await redis.call('ROLE')) as string[])[0] === 'master' ? performance.now() : false)).catch(() => false),
        { timeoutMs: 30_000, intervalMs: 20, description: `the replica on ${next} to be promoted` },
      )) as number;
      await waitFor(async () => (await reportedPrimaries()).every((port) => port === next), {
        timeoutMs: 30_000,
        intervalMs: 50,
        description: `every sentinel to name ${next} the primary`,
      });
      return { port: next, promotedAt };
    };

    const sentinels = sentinelPorts.map((port) => ({ host: '127.0.0.1', port }));
    const group: OwnSentinelGroup = {
      sentinels,
      sentinelsEnv: sentinels.map(({ host, port }) => `${host}:${port}`).join(','),
      primaryPort: currentPrimary,
      failOver,
      stop,
    };
    return track(group, { description: `sentinel group (redis ${primaryPort}, ${replicaPort})`, isOpen: () => children.some(isRunning), close: stop });
  } catch (error) {
    await stop();
    throw error;
  }
};
