import { userInfo } from 'node:os';
import { ConfigError, type Config } from '@valhalla/core';
import { defaultMigrationsDir, type MigrateCommandOptions } from '@valhalla/core/migrator';

const positiveMs = (env: Readonly<Record<string, string | undefined>>, name: string): number | undefined => {
  const raw = env[name];
  if (raw === undefined || raw === '') return undefined;
  const value = Number(raw);
  if (!Number.isInteger(value) || value < 1) throw new ConfigError([{ field: name, message: 'must be a positive whole number of milliseconds' }]);
  return value;
};

// eslint-disable-next-line no-control-regex -- matching control characters is the point
const UNSAFE_NAME = /[\u0000-\u001F\u007F-\u009F\u202A-\u202E\u2066-\u2069]/;

const osUser = (): string | undefined => {
  try {
    return userInfo().username;
  } catch {
    return undefined;
  }
};

/**
 * The migrate command's options from the environment, for both entrypoints (`migrate` and `valhalla migrate`):
 * MIGRATIONS_DIR (another folder of revisions, used by tests), MIGRATION_LOCK_TIMEOUT_MS (wait for another runner),
 * MIGRATION_REVISION_LOCK_TIMEOUT_MS (each revision's lock_timeout), MIGRATION_ACTOR (who runs stamp/repair; default
 * the OS user), MIGRATION_EXPORT_DIR (where `down --export-and-drop` writes).
 * @throws ConfigError naming the variable.
 */
export const migrateOptionsFromEnv = (env: Readonly<Record<string, string | undefined>>, config: Config): MigrateCommandOptions => {
  const lockTimeoutMs = positiveMs(env, 'MIGRATION_LOCK_TIMEOUT_MS');
  const revisionLockTimeoutMs = positiveMs(env, 'MIGRATION_REVISION_LOCK_TIMEOUT_MS');
  const user = osUser();
  const actor = env.MIGRATION_ACTOR?.trim() || (user === undefined ? 'unknown' : `os:${user}`);
  // The audit log's rule for actor names (see storableText.ts): one line, shown as it reads.
  if (UNSAFE_NAME.test(actor) || actor.length > 200) {
    throw new ConfigError([{ field: 'MIGRATION_ACTOR', message: 'must be 1-200 characters without control characters (line breaks, tabs) or bidirectional controls' }]);
  }
  return {
    databaseUrl: config.databaseUrl,
    migrationsDir: env.MIGRATIONS_DIR || defaultMigrationsDir(),
    actor,
    auditKeyring: config.auditKeyring,
    ...(lockTimeoutMs === undefined ? {} : { lockTimeoutMs }),
    ...(revisionLockTimeoutMs === undefined ? {} : { revisionLockTimeoutMs }),
    ...(env.MIGRATION_EXPORT_DIR ? { exportDir: env.MIGRATION_EXPORT_DIR } : {}),
  };
};
