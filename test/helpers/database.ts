import { createHash, randomBytes } from 'node:crypto';
import pg from 'pg';
import { afterAll, afterEach, beforeAll, beforeEach, expect, inject } from 'vitest';
import { createDatabasePool, type DatabasePool } from '../../packages/core/src/index.js';
import { track } from './leaks.js';
import { KEPT_DATABASE_COMMENT } from './leftovers.js';
import { databaseUrlFor } from './services.js';

export const adminDatabaseUrl = () => inject('adminDatabaseUrl');

/** Runs SQL as the admin user on the admin database (CREATE/DROP DATABASE and the like). */
export const adminQuery = async (text: string, database?: string): Promise<pg.QueryResult> => {
  const client = new pg.Client({
    connectionString: database === undefined ? adminDatabaseUrl() : databaseUrlFor(adminDatabaseUrl(), database),
  });
  await client.connect();
  try {
    return await client.query(text);
  } finally {
    await client.end();
  }
};

const databaseName = (label: string) => {
  const hash = createHash('sha256').update(label).digest('hex').slice(0, 8);
  return `vt_${inject('runId')}_${hash}_${randomBytes(3).toString('hex')}`;
};

export type TestDatabase = { name: string; label: string; url: string; pool: DatabasePool };

/**
 * A database of its own for one test file (or one test): a clone of the migrated template, or empty with
 * `{ empty: true }`. Always dropped afterwards; with VALHALLA_KEEP_FAILED_DB=1 a failed test's database is kept for
 * inspection (its name is printed, and listed again at the end of the run).
 */
export const createTestDatabase = async (label: string, options: { empty?: boolean; poolSize?: number } = {}): Promise<TestDatabase> => {
  const name = databaseName(label);
  await adminQuery(options.empty === true ? `CREATE DATABASE ${name}` : `CREATE DATABASE ${name} TEMPLATE ${inject('templateDatabase')}`);
  const url = databaseUrlFor(adminDatabaseUrl(), name);
  const pool = await createDatabasePool({ connectionUri: url, maxPoolSize: options.poolSize ?? 5, applicationName: 'valhalla-test' });
  track(pool, { description: `slonik pool for ${name}`, isOpen: () => pool.state().state === 'ACTIVE', close: () => pool.end() });
  return { name, label, url, pool };
};

/**
 * Drops a test database. `failed`: a test that used it failed; the database is then kept only when the run asked for
 * it (VALHALLA_KEEP_FAILED_DB=1), marked with a comment so that the end-of-run check lists it instead of failing.
 * A shared server must not fill up with the databases of every failed run nobody looks at.
 */
export const dropTestDatabase = async (database: TestDatabase, failed: boolean): Promise<void> => {
  if (database.pool.state().state === 'ACTIVE') await database.pool.end();
  if (failed && inject('keepFailedDatabases')) {
    await adminQuery(`COMMENT ON DATABASE ${database.name} IS ${pg.escapeLiteral(`${KEPT_DATABASE_COMMENT}${database.label}`)}`);
    process.stderr.write(`kept database ${database.name} of a failed test for inspection (VALHALLA_KEEP_FAILED_DB=1)\n`);
    return;
  }
  await adminQuery(`DROP DATABASE IF EXISTS ${database.name} WITH (FORCE)`);
  if (failed) process.stderr.write(`dropped database ${database.name} of a failed test; VALHALLA_KEEP_FAILED_DB=1 keeps it for inspection\n`);
};

export type UseTestDatabaseOptions = {
  empty?: boolean;
  poolSize?: number;
  /**
   * A clone per test (beforeEach/afterEach) instead of one per file: for files whose cases change the same rows
   * (row 1, the audit log, executed jobs), so that no case sees what another left. A clone of the template takes
   * tens of milliseconds.
   */
  perTest?: boolean;
};

/**
 * Registers the hooks of a database cloned from the migrated template: one per file (beforeAll/afterAll), or one per
 * test with `perTest`. Read `.current` inside tests (and in hooks registered after this call).
 */
export const useTestDatabase = (options: UseTestDatabaseOptions = {}): { readonly current: TestDatabase } => {
  let database: TestDatabase | undefined;
  let failed = false;
  const create = async () => {
    const label = `${expect.getState().testPath ?? 'file'}${options.perTest === true ? `-${expect.getState().currentTestName ?? ''}` : ''}`;
    database = await createTestDatabase(label, options);
  };
  const drop = async () => {
    const dropped = database;
    database = undefined;
    if (dropped !== undefined) await dropTestDatabase(dropped, failed);
  };
  if (options.perTest === true) {
    beforeEach(async () => {
      failed = false;
      await create();
    });
    afterEach(async (context) => {
      if (context.task.result?.state === 'fail') failed = true;
      await drop();
    });
  } else {
    beforeAll(create);
    afterEach((context) => {
      if (context.task.result?.state === 'fail') failed = true;
    });
    afterAll(drop);
  }
  return {
    get current() {
      if (database === undefined) throw new Error('useTestDatabase: read .current inside a test');
      return database;
    },
  };
};
