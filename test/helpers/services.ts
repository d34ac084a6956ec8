import { connect } from 'node:net';

/**
 * Where the test suite finds PostgreSQL and Redis: DATABASE_URL / REDIS_URL when set, else the local services on
 * their default ports when they answer, else containers (only where Docker exists; loaded lazily so machines without
 * Docker never import testcontainers).
 */
export type TestServices = { adminDatabaseUrl: string; redisUrl: string; stop: () => Promise<void> };

const LOCAL_POSTGRES = 'postgresql://postgres@127.0.0.1:5432/postgres';
const LOCAL_REDIS = 'redis://127.0.0.1:6379';

const reachable = (host: string, port: number, timeoutMs = 1_000): Promise<boolean> =>
  new Promise((resolve) => {
    const socket = connect({ host, port });
    const done = (ok: boolean) => {
      socket.destroy();
      resolve(ok);
    };
    socket.setTimeout(timeoutMs, () => done(false));
    socket.once('connect', () => done(true));
    socket.once('error', () => done(false));
  });

export const resolveTestServices = async (env: Record<string, string | undefined>): Promise<TestServices> => {
  const stops: (() => Promise<unknown>)[] = [];
  let adminDatabaseUrl = env.DATABASE_URL;
  let redisUrl = env.REDIS_URL;
  if (adminDatabaseUrl === undefined && (await reachable('127.0.0.1', 5432))) adminDatabaseUrl = LOCAL_POSTGRES;
  if (redisUrl === undefined && (await reachable('127.0.0.1', 6379))) redisUrl = LOCAL_REDIS;
  if (adminDatabaseUrl === undefined) {
    const { PostgreSqlContainer } = await import('@testcontainers/postgresql');
    const container = await new PostgreSqlContainer('postgres:17-alpine').start();
    adminDatabaseUrl = container.getConnectionUri();
    stops.push(() => container.stop());
  }
  if (redisUrl === undefined) {
    const { RedisContainer } = await import('@testcontainers/redis');
    const container = await new RedisContainer('redis:7-alpine').withCommand(['redis-server', '--maxmemory-policy', 'noeviction']).start();
    redisUrl = container.getConnectionUrl();
    stops.push(() => container.stop());
  }
  return {
    adminDatabaseUrl,
    redisUrl,
    stop: async () => {
      await Promise.allSettled(stops.map((stop) => stop()));
    },
  };
};

/** The same server, another database. */
export const databaseUrlFor = (adminDatabaseUrl: string, database: string): string => {
  const url = new URL(adminDatabaseUrl);
  url.pathname = `/${database}`;
  return url.toString();
};
