import { Cluster, Redis, type ClusterOptions, type RedisOptions } from 'ioredis';
import type { RedisTopology } from '../config/redisTopology.js';

/**
 * ioredis connections for BullMQ, by role, on any topology (one server, a Redis Cluster, a Sentinel group). Workers
 * block on Redis and must retry forever (`maxRetriesPerRequest: null`, which BullMQ requires). Producers (the api)
 * fail fast instead: no offline queue and a short connect timeout, so a request answers 503 instead of hanging while
 * Redis is down. ioredis's `keyPrefix` is never used: BullMQ refuses it (the queue prefix is QUEUE_PREFIX).
 */
export type RedisRole = 'worker' | 'producer';

/** A connection of any topology: a Cluster client has the same commands, `status` and events as a single one. */
export type RedisClient = Redis | Cluster;

/**
 * After a failover the old primary may still accept the connection as a read-only replica: every write then fails with
 * READONLY until the client reconnects and finds the new primary. Workers reconnect and resend the command (BullMQ's
 * scripts refuse at their first write on a replica, so nothing ran); producers reconnect and let the command fail.
 */
const reconnectOnReadOnly = (role: RedisRole) => (error: Error) => (error.message.startsWith('READONLY') ? (role === 'worker' ? 2 : 1) : false);

const redisOptionsFor = (role: RedisRole): RedisOptions =>
  role === 'worker'
    ? {
        maxRetriesPerRequest: null,
        enableReadyCheck: true,
        // Reconnect forever with a capped backoff: Redis restarts (and loses its data) on some platforms.
        retryStrategy: (times) => Math.min(100 * 2 ** Math.min(times, 6), 3_000),
        reconnectOnError: reconnectOnReadOnly(role),
      }
    : {
        maxRetriesPerRequest: 1,
        enableOfflineQueue: false,
        // Commands issued in the same tick (concurrent requests' job adds) go out in one write instead of one each.
        enableAutoPipelining: true,
        connectTimeout: 2_000,
        commandTimeout: 2_000,
        retryStrategy: (times) => Math.min(100 * 2 ** Math.min(times, 5), 2_000),
        reconnectOnError: reconnectOnReadOnly(role),
      };

/**
 * A Cluster client: the role's options apply to each node's connection; the offline queue, auto-pipelining and the
 * reconnect backoff are the Cluster's own. Producers keep no offline queue, workers retry forever.
 */
const clusterOptionsFor = (role: RedisRole, redisOptions: RedisOptions): ClusterOptions => {
  const { enableOfflineQueue, enableAutoPipelining, retryStrategy, ...nodeOptions } = redisOptions;
  return {
    redisOptions: nodeOptions,
    enableOfflineQueue: enableOfflineQueue ?? true,
    enableAutoPipelining: enableAutoPipelining ?? false,
    enableReadyCheck: true,
    clusterRetryStrategy: (times) => retryStrategy?.(times) ?? 1_000,
    // Reads from the primaries only: a replica may lag behind the job a worker just moved.
    scaleReads: 'master',
    // While a failover moves a slot, MOVED/TRYAGAIN/CLUSTERDOWN answers are retried for about as long as it takes.
    retryDelayOnFailover: 200,
    retryDelayOnClusterDown: 200,
    retryDelayOnTryAgain: 200,
    maxRedirections: role === 'worker' ? 64 : 16,
  };
};

/**
 * Opens a connection for `role` to the configured topology (ioredis connects in the background; commands wait for it
 * (workers) or fail at once until it is ready (producers)). Errors surface through the commands that fail.
 */
export const createRedisConnection = (topology: RedisTopology, role: RedisRole, connectionName?: string): RedisClient => {
  const named = connectionName === undefined ? {} : { connectionName };
  const options = { ...redisOptionsFor(role), ...named };
  let client: RedisClient;
  switch (topology.kind) {
    case 'standalone':
      client = new Redis(topology.url, options);
      break;
    case 'cluster': {
      const password = topology.password === undefined ? {} : { password: topology.password };
      client = new Cluster([...topology.nodes], clusterOptionsFor(role, { ...options, ...password }));
      break;
    }
    case 'sentinel':
      client = new Redis({
        ...options,
        sentinels: [...topology.sentinels],
        name: topology.masterName,
        role: 'master',
        ...(topology.password === undefined ? {} : { password: topology.password }),
        ...(topology.sentinelPassword === undefined ? {} : { sentinelPassword: topology.sentinelPassword }),
        // Off by default in ioredis: without it a connection learns of a failover only when its socket breaks, and
        // one still open to the demoted primary keeps answering READONLY (or blocks on a replica) instead of moving
        // to the new primary. With it, every connection subscribes to the sentinels' +switch-master and reconnects.
        failoverDetector: true,
        // A sentinel that hangs must not hold the resolution of the primary: the next one is asked.
        sentinelCommandTimeout: 2_000,
      });
      break;
    default: {
      const unknown: never = topology;
      throw new Error(`unknown Redis topology ${JSON.stringify(unknown)}`);
    }
  }
  // Errors surface through the commands that fail; an unhandled 'error' event would crash the process.
  client.on('error', () => {});
  return client;
};

/**
 * Whether Redis answers for the queues: PING on one server; on a Cluster, a read of `slotKey` (any key under the
 * queue prefix), which reaches the primary that owns the queues' hash slot, where a PING would reach any node.
 * @throws whatever ioredis throws when Redis is unreachable.
 */
export const pingRedis = async (client: RedisClient, slotKey: string): Promise<boolean> => {
  if (client instanceof Cluster) return (await client.exists(slotKey)) >= 0;
  return (await client.ping()) === 'PONG';
};

/** The servers that hold the data: the one server (or the Sentinel group's primary), or each primary of a Cluster. */
export const redisPrimaries = (client: RedisClient): Redis[] => (client instanceof Cluster ? client.nodes('master') : [client]);
