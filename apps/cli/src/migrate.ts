/**
 * Entrypoint of `npm run migrate -- up|down|status|verify` and of the deploy-time migration (`node
 * apps/cli/dist/migrate.js up`). Reads the environment once: DATABASE_URL (and MIGRATIONS_DIR to point at another
 * folder of revisions, used by tests).
 */
import { defaultMigrationsDir, runMigrateCommand } from '@valhalla/core/migrator';
import { loadConfigOrExit } from '@valhalla/core';

const config = loadConfigOrExit(process.env, 'migrate');
const migrationsDir = process.env.MIGRATIONS_DIR ?? defaultMigrationsDir();
const rawLockTimeout = process.env.MIGRATION_LOCK_TIMEOUT_MS;
const lockTimeoutMs = rawLockTimeout === undefined || rawLockTimeout === '' ? undefined : Number(rawLockTimeout);
if (lockTimeoutMs !== undefined && (!Number.isInteger(lockTimeoutMs) || lockTimeoutMs < 1)) {
  process.stderr.write('migrate: MIGRATION_LOCK_TIMEOUT_MS must be a positive whole number of milliseconds\n');
  process.exit(78);
}

const code = await runMigrateCommand(
  process.argv.slice(2),
  { databaseUrl: config.databaseUrl, migrationsDir, auditKeyring: config.auditKeyring, ...(lockTimeoutMs === undefined ? {} : { lockTimeoutMs }) },
  { out: (line) => process.stdout.write(`${line}\n`), err: (line) => process.stderr.write(`${line}\n`) },
);
process.exitCode = code;
