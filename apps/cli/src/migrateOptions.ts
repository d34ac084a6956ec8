import { userInfo } from 'node:os';
import { ConfigError, type Config } from '@valhalla/core';
import { actorField } from '@valhalla/contract';
import { defaultMigrationsDir, type MigrateCommandOptions } from '@valhalla/core/migrator';

const positiveMs = (env: Readonly<Record<string, string | undefined>>, name: string): number | undefined => {
  const raw = env[name];
  if (raw === undefined || raw === '') return undefined;
  const value = Number(raw);
  if (!Number.isInteger(value) || value < 1) throw new ConfigError([{ field: name, message: 'must be a positive whole number of milliseconds' }]);
  return value;
};

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
  // The audit log's rule for actor names, as every job payload's actor: one line, shown as it reads.
  const checked = actorField.safeParse(env.MIGRATION_ACTOR?.trim() || (user === undefined ? 'unknown' : `os:${user}`));
  if (!checked.success) {
    throw new ConfigError([{ field: 'MIGRATION_ACTOR', message: `must be a one-line name (${checked.error.issues.map((issue) => issue.message).join('; ')})` }]);
  }
  const actor = checked.data;
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
