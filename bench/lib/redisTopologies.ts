/**
 * Redis topologies of one's own, started from the `redis-server`, `redis-cli` and `redis-sentinel` binaries on the
 * PATH: a Redis Cluster and a Sentinel group, each on free ports in a temp dir, no persistence, noeviction. Used by
 * the bench (bench/measure/redisTopologyChanges.ts) and, through test/helpers, by the tests; it imports nothing of ours so
 * that both can load it.
 */
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { mkdir, mkdtemp, rm, writeFile } from 'node:fs/promises';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Redis } from 'ioredis';

type Endpoint = { host: string; port: number };

/** Polls `probe` until it returns something other than false/undefined, or throws after `timeoutMs`. */
const waitUntil = async <T>(probe: () => Promise<T | false | undefined>, timeoutMs: number, what: string, intervalMs = 50): Promise<T> => {
  const deadline = Date.now() + timeoutMs;
  let lastError: unknown;
  for (;;) {
    try {
      const value = await probe();
      if (value !== false && value !== undefined) return value;
    } catch (error) {
      lastError = error;
    }
    if (Date.now() > deadline) throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}${lastError instanceof Error ? `: ${lastError.message}` : ''}`);
    await new Promise((resolve) => setTimeout(resolve, intervalMs));
  }
};

const freePort = (): Promise<number> =>
  new Promise((resolve, reject) => {
    const server = createServer();
    server.once('error', reject);
    server.listen(0, '127.0.0.1', () => {
      const address = server.address();
      server.close(() => (typeof address === 'object' && address !== null ? resolve(address.port) : reject(new Error('no free port'))));
    });
  });

/** Distinct free ports (the kernel may hand the same one out twice once it is closed again). */
const distinctFreePorts = async (count: number): Promise<number[]> => {
  const ports = new Set<number>();
  while (ports.size < count) ports.add(await freePort());
  return [...ports];
};

/** One short-lived connection to a server on 127.0.0.1, for setup and probes. */
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

const isRunning = (child: ChildProcess) => child.exitCode === null && child.signalCode === null;
const kill = (child: ChildProcess) =>
  new Promise<void>((resolve) => {
    if (!isRunning(child)) return resolve();
    child.once('exit', () => resolve());
    // A frozen process takes SIGKILL too; SIGCONT first keeps the exit prompt either way.
    child.kill('SIGCONT');
    child.kill('SIGKILL');
  });

const DATA_ARGS = ['--bind', '127.0.0.1', '--save', '', '--appendonly', 'no', '--maxmemory-policy', 'noeviction'];

export type RedisClusterProcesses = {
  nodes: Endpoint[];
  /** REDIS_CLUSTER_NODES for these nodes. */
  nodesEnv: string;
  /** Primaries (all nodes: no replicas) that answer CLUSTER INFO with cluster_state:ok. */
  masters: () => Promise<number>;
  /** SIGKILLs one node (no replica takes over: its slots are lost until stop()). */
  killNode: (port: number) => Promise<void>;
  running: () => boolean;
  /** Kills every node and removes the dir. */
  stop: () => Promise<void>;
};

/**
 * A Redis Cluster of `masters` primaries and no replicas: `redis-server --cluster-enabled yes` on free ports (each
 * node's cluster bus on a free port of its own, so nothing depends on port + 10000 being free), each in a temp dir,
 * joined with `redis-cli --cluster create … --cluster-replicas 0 --cluster-yes`.
 */
export const startRedisCluster = async (masters = 3): Promise<RedisClusterProcesses> => {
  const dir = await mkdtemp(join(tmpdir(), 'valhalla-cluster-'));
  const ports = await distinctFreePorts(masters * 2);
  const dataPorts = ports.slice(0, masters);
  const busPorts = ports.slice(masters);
  const children: ChildProcess[] = [];
  const stop = async () => {
    await Promise.all(children.map(kill));
    await rm(dir, { recursive: true, force: true });
  };
  try {
    for (const [index, port] of dataPorts.entries()) {
      const nodeDir = join(dir, String(port));
      await mkdir(nodeDir);
      const args = ['--port', String(port), '--cluster-enabled', 'yes', '--cluster-config-file', 'nodes.conf', '--cluster-port', String(busPorts[index])];
      args.push('--cluster-node-timeout', '2000', '--dir', nodeDir, ...DATA_ARGS);
      children.push(spawn('redis-server', args, { stdio: 'ignore' }));
    }
    for (const port of dataPorts) await waitUntil(() => askServer(port, async (redis) => (await redis.ping()) === 'PONG'), 10_000, `cluster node ${port}`);
    const create = spawnSync('redis-cli', ['--cluster', 'create', ...dataPorts.map((port) => `127.0.0.1:${port}`), '--cluster-replicas', '0', '--cluster-yes'], {
      encoding: 'utf8',
      timeout: 30_000,
    });
    if (create.status !== 0) throw new Error(`redis-cli --cluster create failed: ${create.stdout}\n${create.stderr}`);
    const masterCount = async () => {
      let ok = 0;
      for (const port of dataPorts) {
        const info = await askServer(port, (redis) => redis.cluster('INFO')).catch(() => '');
        if (/cluster_state:ok/.test(String(info))) ok += 1;
      }
      return ok;
    };
    await waitUntil(async () => (await masterCount()) === masters, 20_000, 'every cluster node to report cluster_state:ok');
    const nodes = dataPorts.map((port) => ({ host: '127.0.0.1', port }));
    return {
      nodes,
      nodesEnv: nodes.map(({ host, port }) => `${host}:${port}`).join(','),
      masters: masterCount,
      killNode: async (port) => {
        const child = children[dataPorts.indexOf(port)];
        if (child === undefined) throw new Error(`no cluster node on port ${port}`);
        await kill(child);
      },
      running: () => children.some(isRunning),
      stop,
    };
  } catch (error) {
    await stop();
    throw error;
  }
};

/** The group name the sentinels monitor (REDIS_SENTINEL_MASTER). */
export const SENTINEL_MASTER_NAME = 'valhalla';

export type FailoverKind = 'sentinel-failover' | 'freeze' | 'kill';

export type SentinelGroupProcesses = {
  sentinels: Endpoint[];
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
  running: () => boolean;
  /** Kills everything and removes the dir. */
  stop: () => Promise<void>;
};

/** `SENTINEL <subcommand>` answers as lists of alternating field names and values. */
const fieldsOf = (entry: unknown): Record<string, string> => {
  const list = entry as string[];
  const fields: Record<string, string> = {};
  for (let i = 0; i + 1 < list.length; i += 2) fields[list[i] as string] = list[i + 1] as string;
  return fields;
};

const replicaInSync = (port: number) => askServer(port, async (redis) => /master_link_status:up/.test(await redis.info('replication')));

/**
 * A Sentinel group: a primary, one replica and three sentinels (`redis-sentinel`), each on a free port with its own
 * config file in a temp dir (sentinels rewrite it), quorum 2, a primary judged down after 1 s.
 */
export const startSentinelGroup = async (): Promise<SentinelGroupProcesses> => {
  const dir = await mkdtemp(join(tmpdir(), 'valhalla-sentinel-'));
  const [primaryPort, replicaPort, ...sentinelPorts] = (await distinctFreePorts(5)) as [number, number, ...number[]];
  const servers = new Map<number, ChildProcess>();
  const children: ChildProcess[] = [];
  const stop = async () => {
    await Promise.all(children.map(kill));
    await rm(dir, { recursive: true, force: true });
  };
  try {
    for (const port of [primaryPort, replicaPort]) {
      const serverDir = join(dir, `redis-${port}`);
      await mkdir(serverDir);
      const args = ['--port', String(port), '--dir', serverDir, ...DATA_ARGS];
      if (port === replicaPort) args.push('--replicaof', '127.0.0.1', String(primaryPort));
      const child = spawn('redis-server', args, { stdio: 'ignore' });
      servers.set(port, child);
      children.push(child);
      await waitUntil(() => askServer(port, async (redis) => (await redis.ping()) === 'PONG'), 10_000, `redis-server on ${port}`);
    }
    await waitUntil(() => replicaInSync(replicaPort), 15_000, 'the replica to sync with the primary');
    for (const port of sentinelPorts) {
      const sentinelDir = join(dir, `sentinel-${port}`);
      await mkdir(sentinelDir);
      const config = join(sentinelDir, 'sentinel.conf');
      const lines = [`port ${port}`, 'bind 127.0.0.1', 'protected-mode no', 'daemonize no', `dir ${sentinelDir}`];
      lines.push(`sentinel monitor ${SENTINEL_MASTER_NAME} 127.0.0.1 ${primaryPort} 2`, `sentinel down-after-milliseconds ${SENTINEL_MASTER_NAME} 1000`);
      lines.push(`sentinel failover-timeout ${SENTINEL_MASTER_NAME} 5000`, `sentinel parallel-syncs ${SENTINEL_MASTER_NAME} 1`, '');
      await writeFile(config, lines.join('\n'));
      children.push(spawn('redis-sentinel', [config], { stdio: 'ignore' }));
    }
    // Ready when every sentinel knows the replica (in sync) and the two other sentinels: a failover can be agreed.
    for (const port of sentinelPorts) {
      await waitUntil(
        () =>
          askServer(port, async (redis) => {
            const replicas = ((await redis.call('SENTINEL', 'REPLICAS', SENTINEL_MASTER_NAME)) as unknown[]).map(fieldsOf);
            const others = (await redis.call('SENTINEL', 'SENTINELS', SENTINEL_MASTER_NAME)) as unknown[];
            return replicas.some((replica) => replica['master-link-status'] === 'ok' && !/s_down|disconnected/.test(replica.flags ?? '')) && others.length === 2;
          }),
        30_000,
        `sentinel ${port} to know the replica and the other sentinels`,
        100,
      );
    }
    const reportedPrimaries = () =>
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
      await waitUntil(() => replicaInSync(next), 45_000, `the replica on ${next} to be in sync before the failover`, 100);
      const oldServer = servers.get(old) as ChildProcess;
      if (how === 'kill') await kill(oldServer);
      else if (how === 'freeze') {
        frozen = oldServer;
        oldServer.kill('SIGSTOP');
      } else await askServer(sentinelPorts[0] as number, (redis) => redis.call('SENTINEL', 'FAILOVER', SENTINEL_MASTER_NAME));
      const promotedAt = await waitUntil(
        () => askServer(next, async (redis) => (((await redis.call('ROLE')) as string[])[0] === 'master' ? performance.now() : false)).catch(() => false as const),
        30_000,
        `the replica on ${next} to be promoted`,
        20,
      );
      await waitUntil(async () => (await reportedPrimaries()).every((port) => port === next), 30_000, `every sentinel to name ${next} the primary`);
      return { port: next, promotedAt };
    };
    const sentinels = sentinelPorts.map((port) => ({ host: '127.0.0.1', port }));
    return {
      sentinels,
      sentinelsEnv: sentinels.map(({ host, port }) => `${host}:${port}`).join(','),
      primaryPort: currentPrimary,
      failOver,
      running: () => children.some(isRunning),
      stop,
    };
  } catch (error) {
    await stop();
    throw error;
  }
};
