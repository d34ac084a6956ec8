import { createTestDatabase, dropTestDatabase, type TestDatabase } from '../helpers/database.js';
import { cp, mkdtemp, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterEach, onTestFinished } from 'vitest';

export const MIGRATIONS_DIR = fileURLToPath(new URL('../../migrations/', import.meta.url));
/** The origin report's DDL and seed SQL, verbatim (the report itself lives outside this repository). */
const REPORT_SQL_PATH = fileURLToPath(new URL('./fixtures/report-tables.sql', import.meta.url));
const ALEMBIC_VERSION_SQL_PATH = fileURLToPath(new URL('./fixtures/alembic_version.sql', import.meta.url));
export const MIGRATE_CLI = 'apps/cli/dist/migrate.js';

/** The report's own SQL (DDL and seeding), as the Python service ran it. */
export const reportSql = (): Promise<string> => readFile(REPORT_SQL_PATH, 'utf8');

/** A database as the Python service made it: the report's DDL and seeds, and Alembic's version table at `revision`. */
export const pythonServiceSql = async (revision: string): Promise<string> =>
  `${await reportSql()}\n${await readFile(ALEMBIC_VERSION_SQL_PATH, 'utf8')}\n` +
  `INSERT INTO public.alembic_version (version_num) VALUES ('${revision.replaceAll("'", "''")}');`;

/** A scratch copy of migrations/ that a test may edit, removed when the test finishes. */
export const copyMigrations = async (): Promise<string> => {
  const dir = await mkdtemp(join(tmpdir(), 'valhalla-migrations-'));
  await cp(MIGRATIONS_DIR, dir, { recursive: true });
  onTestFinished(() => rm(dir, { recursive: true, force: true }));
  return dir;
};

/**
 * Empty databases created for one test and dropped after it (kept for forensics when the test failed). Call in a
 * test file's top level: it registers the afterEach that drops them.
 */
export const useFreshDatabases = (poolSize: number): ((label: string) => Promise<TestDatabase>) => {
  let databases: TestDatabase[] = [];
  afterEach(async (context) => {
    const failed = context.task.result?.state === 'fail';
    await Promise.all(databases.map((database) => dropTestDatabase(database, failed)));
    databases = [];
  });
  return async (label) => {
    const database = await createTestDatabase(label, { empty: true, poolSize });
    databases.push(database);
    return database;
  };
};
