import pg from 'pg';
import { Redis } from 'ioredis';

/**
 * What a test run left in the shared PostgreSQL and Redis: its databases (`vt_<run id>_…`, template included) and
 * its BullMQ keys (`bull-test-<run id>-…`, see uniqueQueuePrefix). Scoped to one run id, so that runs of other people
 * on the same services are never counted (or removed). graphile-worker's suite does the same check at its end.
 */
export type Leftovers = {
  /** Databases of the run that nobody asked to keep. */
  databases: string[];
  /** Databases kept on purpose (VALHALLA_KEEP_FAILED_DB=1), each with the failed test it belongs to. */
  kept: { name: string; test: string }[];
  /** Leftover keys per BullMQ prefix. */
  redisKeys: Map<string, number>;
};

/** The comment a kept database carries: how the end-of-run check tells it from a leak. */
export const KEPT_DATABASE_COMMENT = 'valhalla-test kept for inspection: ';

const runDatabasePattern = (runId: string): string => `vt_${runId}_`;
export const runQueuePrefixStart = (runId: string): string => `bull-test-${runId}-`;

const withAdmin = async <T>(adminDatabaseUrl: string, use: (client: pg.Client) => Promise<T>): Promise<T> => {
  const client = new pg.Client({ connectionString: adminDatabaseUrl });
  await client.connect();
  try {
    return await use(client);
  } finally {
    await client.end();
  }
};

const withRedis = async <T>(redisUrl: string, use: (redis: Redis) => Promise<T>): Promise<T> => {
  const redis = new Redis(redisUrl, { maxRetriesPerRequest: 1, lazyConnect: true });
  await redis.connect();
  try {
    return await use(redis);
  } finally {
    redis.disconnect();
  }
};

/** Every key under `pattern` (SCAN, never KEYS: the server is shared). */
export const scanKeys = async (redis: Redis, pattern: string): Promise<string[]> => {
  const found: string[] = [];
  let cursor = '0';
  do {
    const [next, keys] = await redis.scan(cursor, 'MATCH', pattern, 'COUNT', 1000);
    cursor = next;
    found.push(...keys);
  } while (cursor !== '0');
  return found;
};

/** Lists what run `runId` left behind. */
export const findLeftovers = async (services: { adminDatabaseUrl: string; redisUrl: string }, runId: string): Promise<Leftovers> => {
  const rows = await withAdmin(services.adminDatabaseUrl, async (client) =>
    (
      await client.query<{ datname: string; comment: string | null }>(
        `SELECT datname, shobj_description(oid, 'pg_database') AS comment FROM pg_database WHERE starts_with(datname, $1) ORDER BY datname`,
        [runDatabasePattern(runId)],
      )
    ).rows,
  );
  const keys = await withRedis(services.redisUrl, (redis) => scanKeys(redis, `${runQueuePrefixStart(runId)}*`));
  const redisKeys = new Map<string, number>();
  for (const key of keys) {
    const prefix = key.split(':')[0] ?? key;
    redisKeys.set(prefix, (redisKeys.get(prefix) ?? 0) + 1);
  }
  return {
    databases: rows.filter((row) => !(row.comment ?? '').startsWith(KEPT_DATABASE_COMMENT)).map((row) => row.datname),
    kept: rows
      .filter((row) => (row.comment ?? '').startsWith(KEPT_DATABASE_COMMENT))
      .map((row) => ({ name: row.datname, test: (row.comment ?? '').slice(KEPT_DATABASE_COMMENT.length) })),
    redisKeys,
  };
};

/** Drops the leftover databases (not the kept ones) and deletes the leftover keys. */
export const removeLeftovers = async (services: { adminDatabaseUrl: string; redisUrl: string }, runId: string, leftovers: Leftovers): Promise<void> => {
  await withAdmin(services.adminDatabaseUrl, async (client) => {
    for (const name of leftovers.databases) await client.query(`DROP DATABASE IF EXISTS ${pg.escapeIdentifier(name)} WITH (FORCE)`);
  });
  await withRedis(services.redisUrl, async (redis) => {
    const keys = await scanKeys(redis, `${runQueuePrefixStart(runId)}*`);
    for (let i = 0; i < keys.length; i += 500) await redis.del(...keys.slice(i, i + 500));
  });
};

/** The end-of-run report: what leaked (a failure) and what was kept on request (not one). Empty when clean. */
export const describeLeftovers = (leftovers: Leftovers, adminDatabaseUrl: string): { leaks: string; kept: string } => {
  const leaks = [
    ...leftovers.databases.map((name) => `  database ${name}`),
    ...[...leftovers.redisKeys].map(([prefix, count]) => `  ${count} Redis key(s) under ${prefix}:`),
  ];
  const server = new URL(adminDatabaseUrl);
  // The command is printed: never with the password.
  server.password = '';
  const kept = leftovers.kept.map((database) => `  ${database.name} (${database.test}): psql '${server.toString()}' -c 'DROP DATABASE ${database.name}'`);
  return {
    leaks:
      leaks.length === 0
        ? ''
        : [
            'The test run left these behind in the shared PostgreSQL and Redis (now removed). A test or helper that created',
            'them did not clean up: find it by the label in the name.',
            ...leaks,
          ].join('\n'),
    kept: kept.length === 0 ? '' : ['Databases of failed tests, kept because VALHALLA_KEEP_FAILED_DB=1:', ...kept].join('\n'),
  };
};
