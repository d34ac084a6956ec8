export {
  BASE_REVISION,
  assertLedgerMatchesCode,
  assertSchemaCompatible,
  createMigrator,
  type DownOptions,
  type DownResult,
  type MigrationStatus,
  type Migrator,
  type MigratorOptions,
  type OperatorIntent,
} from './runner.js';
export { loadRevisionChain, orderChain, REVISION_FILES, type Revision, type RevisionChain } from './revisions.js';
export { LEDGER_TABLE, type LedgerOrigin, type LedgerRow } from './ledger.js';
export { defaultMigrationsDir } from './defaultMigrationsDir.js';
export { MIGRATE_USAGE, runMigrateCommand, type MigrateCommandIo, type MigrateCommandOptions } from './migrateCommand.js';
export { appliedRevisionIds } from './appliedRevisionIds.js';
