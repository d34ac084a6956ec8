import { randomBytes } from 'node:crypto';
import { fileURLToPath } from 'node:url';
import pg from 'pg';
import type { TestProject } from 'vitest/node';
import { createMigrator } from '../../packages/core/src/migrator/index.js';
import { databaseUrlFor, resolveTestServices } from './services.js';

declare module 'vitest' {
  export interface ProvidedContext {
    adminDatabaseUrl: string;
    templateDatabase: string;
    redisUrl: string;
    runId: string;
  }
}

export const MIGRATIONS_DIR = fileURLToPath(new URL('../../migrations/', import.meta.url));

/** Resolves the services once, and migrates a template database that every test file clones. */
export default async function setup(project: TestProject) {
  const services = await resolveTestServices(process.env);
  const runId = randomBytes(3).toString('hex');
  const templateDatabase = `vt_${runId}_template`;
  const admin = new pg.Client({ connectionString: services.adminDatabaseUrl });
  await admin.connect();
  await admin.query(`CREATE DATABASE ${templateDatabase}`);
  await admin.end();
  await createMigrator({ databaseUrl: databaseUrlFor(services.adminDatabaseUrl, templateDatabase), migrationsDir: MIGRATIONS_DIR }).up();

  project.provide('adminDatabaseUrl', services.adminDatabaseUrl);
  project.provide('templateDatabase', templateDatabase);
  project.provide('redisUrl', services.redisUrl);
  project.provide('runId', runId);

  return async () => {
    const client = new pg.Client({ connectionString: services.adminDatabaseUrl });
    await client.connect();
    await client.query(`DROP DATABASE IF EXISTS ${templateDatabase} WITH (FORCE)`);
    await client.end();
    await services.stop();
  };
}
