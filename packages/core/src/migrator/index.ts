export { BASE_REVISION, assertLedgerMatchesCode, createMigrator, type MigrationStatus, type Migrator, type MigratorOptions } from './runner.js';
export { loadRevisionChain, orderChain, REVISION_FILES, type Revision, type RevisionChain } from './revisions.js';
export { LEDGER_TABLE, type LedgerRow } from './ledger.js';
export { defaultMigrationsDir } from './defaultMigrationsDir.js';
export { MIGRATE_USAGE, runMigrateCommand, type MigrateCommandIo } from './migrateCommand.js';
export { appliedRevisionIds } from './appliedRevisionIds.js';
