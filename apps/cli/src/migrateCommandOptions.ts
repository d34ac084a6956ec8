import type { Config } from '@valhalla/core';
import type { migrateVariables, Values } from '@valhalla/core/env';
import { defaultMigrationsDir } from '@valhalla/core/migrator';
import type { MigrateCommandOptions } from './runMigrateCommand.js';

/**
 * The migrate command's options, for both entrypoints (`migrate` and `valhalla migrate`): the database, audit keys and
 * MIGRATIONS_DIR of the Config, and the migrate section of the env module (each variable parsed by its definition).
 */
export const migrateCommandOptions = (config: Config, settings: Values<typeof migrateVariables>): MigrateCommandOptions => ({
  databaseUrl: config.databaseUrl,
  migrationsDir: config.migrationsDir ?? defaultMigrationsDir(),
  actor: settings.MIGRATION_ACTOR,
  auditKeyring: config.auditKeyring,
  ...(settings.MIGRATION_LOCK_TIMEOUT_MS === undefined ? {} : { lockTimeoutMs: settings.MIGRATION_LOCK_TIMEOUT_MS }),
  ...(settings.MIGRATION_REVISION_LOCK_TIMEOUT_MS === undefined ? {} : { revisionLockTimeoutMs: settings.MIGRATION_REVISION_LOCK_TIMEOUT_MS }),
  ...(settings.MIGRATION_EXPORT_DIR === undefined ? {} : { exportDir: settings.MIGRATION_EXPORT_DIR }),
});
