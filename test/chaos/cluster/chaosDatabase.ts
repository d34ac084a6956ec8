import { randomBytes } from 'node:crypto';
import pg from 'pg';
import { createDatabasePool } from '../../../packages/core/src/index.js';
import { createMigrator, defaultMigrationsDir } from '../../../packages/core/src/migrator/index.js';
import { databaseUrlFor } from '../../helpers/services.js';
import { retryDatabase } from '../retryDatabase.js';

export type ChaosDatabase = {
  name: string;
  /** Direct URL (the suite's own checks; the product goes through its proxies). */
  url: string;
  /** Where PostgreSQL listens: the proxies' target. */
  server: { host: string; port: number };
  drop: () => Promise<void>;
};

const adminQuery = async (adminUrl: string, text: string): Promise<void> => {
  const client = new pg.Client({ connectionString: adminUrl });
  await client.connect();
  try {
    await client.query(text);
  } finally {
    await client.end();
  }
};

/** A database of the run's own (`<prefix><hex>`) on the admin connection's server, migrated to head (as `migrate up` does). */
export const createChaosDatabase = async (adminUrl: string, prefix: string): Promise<ChaosDatabase> => {
  const name = `${prefix}${randomBytes(4).toString('hex')}`;
  await retryDatabase(() => adminQuery(adminUrl, `CREATE DATABASE ${name}`));
  const url = databaseUrlFor(adminUrl, name);
  const drop = () => retryDatabase(() => adminQuery(adminUrl, `DROP DATABASE IF EXISTS ${name} WITH (FORCE)`));
  try {
    // Migrations are idempotent: a run cut short by a busy server (too many connections) is simply run again.
    await retryDatabase(async () => {
      const pool = await createDatabasePool({ connectionUri: url, maxPoolSize: 1, applicationName: 'valhalla-chaos-migrate' });
      try {
        await createMigrator({ db: pool, migrationsDir: defaultMigrationsDir() }).up();
      } finally {
        await pool.end();
      }
    });
  } catch (error) {
    await drop();
    throw error;
  }
  const parsed = new URL(url);
  return { name, url, server: { host: parsed.hostname, port: Number(parsed.port || 5432) }, drop };
};
