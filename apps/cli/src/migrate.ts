/**
 * Entrypoint of `npm run migrate -- up|down|status|verify|stamp|repair` and of the deploy-time migration (`node
 * apps/cli/dist/migrate.js up`). Reads the environment once: DATABASE_URL, MIGRATIONS_DIR (another folder of
 * revisions, used by tests), MIGRATION_LOCK_TIMEOUT_MS (advisory lock wait), MIGRATION_REVISION_LOCK_TIMEOUT_MS (each
 * revision's lock_timeout), MIGRATION_ACTOR (who runs stamp/repair; default the OS user), MIGRATION_EXPORT_DIR.
 */
import { userInfo } from 'node:os';
import { defaultMigrationsDir, runMigrateCommand } from '@valhalla/core/migrator';
import { loadConfigOrExit } from '@valhalla/core';

const config = loadConfigOrExit(process.env, 'migrate');
const migrationsDir = process.env.MIGRATIONS_DIR ?? defaultMigrationsDir();

const positiveMs = (name: string): number | undefined => {
  const raw = process.env[name];
  if (raw === undefined || raw === '') return undefined;
  const value = Number(raw);
  if (!Number.isInteger(value) || value < 1) {
    process.stderr.write(`migrate: ${name} must be a positive whole number of milliseconds\n`);
    process.exit(78);
  }
  return value;
};
const lockTimeoutMs = positiveMs('MIGRATION_LOCK_TIMEOUT_MS');
const revisionLockTimeoutMs = positiveMs('MIGRATION_REVISION_LOCK_TIMEOUT_MS');
const osUser = (() => {
  try {
    return userInfo().username;
  } catch {
    return undefined;
  }
})();
const actor = process.env.MIGRATION_ACTOR?.trim() || (osUser === undefined ? 'unknown' : `os:${osUser}`);

const code = await runMigrateCommand(
  process.argv.slice(2),
  {
    databaseUrl: config.databaseUrl,
    migrationsDir,
    actor,
    auditKeyring: config.auditKeyring,
    ...(lockTimeoutMs === undefined ? {} : { lockTimeoutMs }),
    ...(revisionLockTimeoutMs === undefined ? {} : { revisionLockTimeoutMs }),
    ...(process.env.MIGRATION_EXPORT_DIR ? { exportDir: process.env.MIGRATION_EXPORT_DIR } : {}),
  },
  { out: (line) => process.stdout.write(`${line}\n`), err: (line) => process.stderr.write(`${line}\n`) },
);
process.exitCode = code;
