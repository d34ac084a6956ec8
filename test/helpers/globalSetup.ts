import { randomBytes } from 'node:crypto';
import { fileURLToPath } from 'node:url';
import pg from 'pg';
import type { TestProject } from 'vitest/node';
import { createDatabasePool } from '../../packages/core/src/index.js';
import { createMigrator } from '../../packages/core/src/migrator/index.js';
import { describeLeftovers, findLeftovers, removeLeftovers } from './leftovers.js';
import { databaseUrlFor, resolveTestServices } from './services.js';

declare module 'vitest' {
  export interface ProvidedContext {
    adminDatabaseUrl: string;
    templateDatabase: string;
    redisUrl: string;
    runId: string;
    /** VALHALLA_KEEP_FAILED_DB=1: a failed test's database is kept for inspection instead of dropped. */
    keepFailedDatabases: boolean;
  }
}

export const MIGRATIONS_DIR = fileURLToPath(new URL('../../migrations/', import.meta.url));

/**
 * Resolves the services once, and migrates a template database that every test file clones. At the end of the run it
 * drops the template and checks that the run left nothing in the shared PostgreSQL and Redis: leftovers are named,
 * removed, and fail the run (vitest ignores an error thrown here, hence the exit code).
 */
export default async function setup(project: TestProject) {
  const services = await resolveTestServices(process.env);
  const runId = randomBytes(3).toString('hex');
  const templateDatabase = `vt_${runId}_template`;
  const admin = new pg.Client({ connectionString: services.adminDatabaseUrl });
  await admin.connect();
  await admin.query(`CREATE DATABASE ${templateDatabase}`);
  await admin.end();
  const templatePool = await createDatabasePool({
    connectionUri: databaseUrlFor(services.adminDatabaseUrl, templateDatabase),
    maxPoolSize: 1,
    applicationName: 'valhalla-test-template',
  });
  try {
    await createMigrator({ db: templatePool, migrationsDir: MIGRATIONS_DIR }).up();
  } finally {
    // Closed before any test clones it: a template must have no connections.
    await templatePool.end();
  }

  project.provide('adminDatabaseUrl', services.adminDatabaseUrl);
  project.provide('templateDatabase', templateDatabase);
  project.provide('redisUrl', services.redisUrl);
  project.provide('runId', runId);
  project.provide('keepFailedDatabases', process.env.VALHALLA_KEEP_FAILED_DB === '1');

  return async () => {
    try {
      const client = new pg.Client({ connectionString: services.adminDatabaseUrl });
      await client.connect();
      await client.query(`DROP DATABASE IF EXISTS ${templateDatabase} WITH (FORCE)`);
      await client.end();
      const leftovers = await findLeftovers(services, runId);
      const report = describeLeftovers(leftovers, services.adminDatabaseUrl);
      if (report.kept !== '') process.stderr.write(`\n${report.kept}\n`);
      if (report.leaks !== '') {
        await removeLeftovers(services, runId, leftovers);
        process.stderr.write(`\n${report.leaks}\n`);
        process.exitCode = 1;
      }
    } catch (error) {
      process.stderr.write(`\nThe end-of-run check for leftover databases and Redis keys failed: ${error instanceof Error ? error.message : String(error)}\n`);
      process.exitCode = 1;
    } finally {
      await services.stop();
    }
  };
}
