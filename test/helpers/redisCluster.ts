import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { mkdir, mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Redis } from 'ioredis';
import type { RedisEndpoint } from '../../packages/core/src/index.js';
import { track } from './leaks.js';
import { freePort } from './redisServer.js';
import { waitFor } from './waitFor.js';

export type OwnRedisCluster = {
  nodes: RedisEndpoint[];
  /** REDIS_CLUSTER_NODES for these nodes. */
  nodesEnv: string;
  /** Primaries (all nodes: no replicas) that answer CLUSTER INFO with cluster_state:ok. */
  masters: () => Promise<number>;
  /** SIGKILLs one node (no replica takes over: its slots are lost until the end of the test). */
  killNode: (port: number) => Promise<void>;
  stop: () => Promise<void>;
};

/** Distinct free ports (the kernel may hand the same one out twice in a row once it is closed again). */
const distinctFreePorts = async (count: number): Promise<number[]> => {
  const ports = new Set<number>();
  while (ports.size < count) ports.add(await freePort());
  return [...ports];
};

const askNode = async <T>(port: number, ask: (redis: Redis) => Promise<T>): Promise<T> => {
  const redis = new Redis({ port, host: '127.0.0.1', lazyConnect: true, maxRetriesPerRequest: 0, retryStrategy: () => null });
  redis.on('error', () => {});
  try {
    await redis.connect();
    return await ask(redis);
  } finally {
    redis.disconnect();
  }
};

/**
 * A real Redis Cluster of `masters` primaries and no replicas, of the test's own: `redis-server --cluster-enabled yes`
 * on free ports (each node's cluster bus on a free port of its own, so nothing depends on port+10000 being free), each
 * in a temp dir, joined with `redis-cli --cluster create`. No persistence, noeviction. `stop()` kills the nodes and
 * removes the dirs.
 */
export const startRedisCluster = async (masters = 3): Promise<OwnRedisCluster> => {
  const dir = await mkdtemp(join(tmpdir(), 'valhalla-cluster-'));
  const ports = await distinctFreePorts(masters * 2);
  const dataPorts = ports.slice(0, masters);
  const busPorts = ports.slice(masters);
  const children: ChildProcess[] = [];
  const isRunning = (child: ChildProcess) => child.exitCode === null && child.signalCode === null;
  const kill = (child: ChildProcess) =>
    new Promise<void>((resolve) => {
      if (!isRunning(child)) return resolve();
      child.once('exit', () => resolve());
      child.kill('SIGKILL');
    });
  const stop = async () => {
    await Promise.all(children.map(kill));
    await rm(dir, { recursive: true, force: true });
  };
  try {
    for (const [index, port] of dataPorts.entries()) {
      const nodeDir = join(dir, String(port));
      await mkdir(nodeDir);
      const args = ['--port', String(port), '--bind', '127.0.0.1', '--cluster-enabled', 'yes', '--cluster-config-file', 'nodes.conf'];
      args.push('--cluster-port', String(busPorts[index]), '--cluster-node-timeout', '2000', '--dir', nodeDir);
      args.push('--save', '', '--appendonly', 'no', '--maxmemory-policy', 'noeviction');
      children.push(spawn('redis-server', args, { stdio: 'ignore' }));
    }
    for (const port of dataPorts) {
      await waitFor(() => askNode(port, async (redis) => (await redis.ping()) === 'PONG'), { timeoutMs: 10_000, description: `cluster node ${port}` });
    }
    const create = spawnSync('redis-cli', ['--cluster', 'create', ...dataPorts.map((port) => `127.0.0.1:${port}`), '--cluster-replicas', '0', '--cluster-yes'], {
      encoding: 'utf8',
      timeout: 30_000,
    });
    if (create.status !== 0) throw new Error(`redis-cli --cluster create failed: ${create.stdout}\n${create.stderr}`);
    const masterCount = async () => {
      let ok = 0;
      for (const port of dataPorts) {
        const info = await askNode(port, (redis) => redis.cluster('INFO')).catch(() => '');
        if (/cluster_state:ok/.test(String(info))) ok += 1;
      }
      return ok;
    };
    await waitFor(async () => (await masterCount()) === masters, { timeoutMs: 20_000, description: `every cluster node to report cluster_state:ok` });
    const nodes = dataPorts.map((port) => ({ host: '127.0.0.1', port }));
    const killNode = async (port: number) => {
      const child = children[dataPorts.indexOf(port)];
      if (child === undefined) throw new Error(`no cluster node on port ${port}`);
      await kill(child);
    };
    const nodesEnv = nodes.map(({ host, port }) => `${host}:${port}`).join(',');
    const cluster: OwnRedisCluster = { nodes, nodesEnv, masters: masterCount, killNode, stop };
    return track(cluster, { description: `redis cluster on ${dataPorts.join(', ')}`, isOpen: () => children.some(isRunning), close: stop });
  } catch (error) {
    await stop();
    throw error;
  }
};
