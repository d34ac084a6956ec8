import type { ErrorDetail } from '../errors/index.js';
import { isHashTaggedPrefix } from './queuePrefix.js';

type RedisEndpoint = { readonly host: string; readonly port: number };

/**
 * Where BullMQ's Redis is and how to reach it: one server (REDIS_URL), a Redis Cluster (REDIS_CLUSTER_NODES), or a
 * primary found through Sentinel (REDIS_SENTINELS + REDIS_SENTINEL_MASTER).
 */
export type RedisTopology =
  | { readonly kind: 'standalone'; readonly url: string }
  | { readonly kind: 'cluster'; readonly nodes: readonly RedisEndpoint[]; readonly password: string | undefined }
  | {
      readonly kind: 'sentinel';
      readonly sentinels: readonly RedisEndpoint[];
      /** The group name the sentinels monitor (`sentinel monitor <name> …`). */
      readonly masterName: string;
      /** The primary's and replicas' password (their requirepass). */
      readonly password: string | undefined;
      /** The sentinels' own password, when they have one. */
      readonly sentinelPassword: string | undefined;
    };

/** The Redis variables, as strings (empty ones already removed). */
export type RedisVariables = {
  REDIS_URL: string | undefined;
  REDIS_CLUSTER_NODES: string | undefined;
  REDIS_SENTINELS: string | undefined;
  REDIS_SENTINEL_MASTER: string | undefined;
  REDIS_PASSWORD: string | undefined;
  REDIS_SENTINEL_PASSWORD: string | undefined;
};

const HOST = /^(?:[A-Za-z0-9](?:[A-Za-z0-9.-]*[A-Za-z0-9])?|\[[0-9A-Fa-f:.]+\])$/;
const MASTER_NAME = /^[A-Za-z0-9_.-]{1,100}$/;

/** `host:port,host:port`: each entry checked, duplicates refused. */
const parseEndpoints = (field: string, value: string, problems: ErrorDetail[]): RedisEndpoint[] => {
  const endpoints: RedisEndpoint[] = [];
  const seen = new Set<string>();
  const entries = value.split(',').map((entry) => entry.trim());
  for (const entry of entries) {
    const colon = entry.lastIndexOf(':');
    const host = colon < 0 ? '' : entry.slice(0, colon);
    const portText = colon < 0 ? '' : entry.slice(colon + 1);
    const port = /^[0-9]{1,5}$/.test(portText) ? Number(portText) : NaN;
    if (!HOST.test(host) || !(port >= 1 && port <= 65535)) {
      problems.push({ field, message: `entry "${entry}" is not host:port (comma-separated host:port entries)` });
      continue;
    }
    const key = `${host.toLowerCase()}:${port}`;
    if (seen.has(key)) {
      problems.push({ field, message: `entry ${entry} is listed twice` });
      continue;
    }
    seen.add(key);
    // ioredis takes an IPv6 address without its brackets.
    endpoints.push({ host: host.startsWith('[') ? host.slice(1, -1) : host, port });
  }
  return endpoints;
};

/**
 * Chooses the topology from the variables (at most one of REDIS_URL, REDIS_CLUSTER_NODES, REDIS_SENTINELS; none means
 * `defaultUrl`) and checks what goes with it. A Cluster needs a hash-tagged queue prefix. Never throws: each problem
 * names its variables.
 */
export const parseRedisTopology = (
  raw: RedisVariables,
  options: { queuePrefix: string; defaultUrl: string },
): { topology: RedisTopology; problems: ErrorDetail[] } => {
  const problems: ErrorDetail[] = [];
  const chosen = (['REDIS_URL', 'REDIS_CLUSTER_NODES', 'REDIS_SENTINELS'] as const).filter((field) => raw[field] !== undefined);
  if (chosen.length > 1) {
    problems.push({ field: chosen.join(', '), message: 'choose one Redis topology: REDIS_URL, REDIS_CLUSTER_NODES or REDIS_SENTINELS' });
  }
  if (raw.REDIS_SENTINEL_MASTER !== undefined && raw.REDIS_SENTINELS === undefined) {
    problems.push({ field: 'REDIS_SENTINEL_MASTER', message: 'is used only with REDIS_SENTINELS' });
  }
  if (raw.REDIS_SENTINEL_PASSWORD !== undefined && raw.REDIS_SENTINELS === undefined) {
    problems.push({ field: 'REDIS_SENTINEL_PASSWORD', message: 'is used only with REDIS_SENTINELS' });
  }
  if (raw.REDIS_PASSWORD !== undefined && raw.REDIS_CLUSTER_NODES === undefined && raw.REDIS_SENTINELS === undefined) {
    problems.push({ field: 'REDIS_PASSWORD', message: 'is used only with REDIS_CLUSTER_NODES or REDIS_SENTINELS (REDIS_URL carries its own password)' });
  }

  if (raw.REDIS_CLUSTER_NODES !== undefined) {
    const nodes = parseEndpoints('REDIS_CLUSTER_NODES', raw.REDIS_CLUSTER_NODES, problems);
    if (!isHashTaggedPrefix(options.queuePrefix)) {
      problems.push({
        field: 'QUEUE_PREFIX',
        message:
          `is ${options.queuePrefix}, but REDIS_CLUSTER_NODES needs a hash-tagged prefix such as {valhalla}: BullMQ's scripts ` +
          'touch several keys of a queue, which Redis Cluster accepts only within one hash slot',
      });
    }
    return { topology: { kind: 'cluster', nodes, password: raw.REDIS_PASSWORD }, problems };
  }
  if (raw.REDIS_SENTINELS !== undefined) {
    const sentinels = parseEndpoints('REDIS_SENTINELS', raw.REDIS_SENTINELS, problems);
    const masterName = raw.REDIS_SENTINEL_MASTER;
    if (masterName === undefined) {
      problems.push({ field: 'REDIS_SENTINEL_MASTER', message: 'is required with REDIS_SENTINELS (the name the sentinels monitor)' });
    } else if (!MASTER_NAME.test(masterName)) {
      problems.push({ field: 'REDIS_SENTINEL_MASTER', message: 'must be 1-100 characters of letters, digits, _ . -' });
    }
    return {
      topology: { kind: 'sentinel', sentinels, masterName: masterName ?? '', password: raw.REDIS_PASSWORD, sentinelPassword: raw.REDIS_SENTINEL_PASSWORD },
      problems,
    };
  }
  return { topology: { kind: 'standalone', url: raw.REDIS_URL ?? options.defaultUrl }, problems };
};

/** Whether the variables name any Redis (production requires one). */
export const hasRedisTopology = (raw: RedisVariables): boolean =>
  raw.REDIS_URL !== undefined || raw.REDIS_CLUSTER_NODES !== undefined || raw.REDIS_SENTINELS !== undefined;
