export {
  BASE_REVISION,
  assertLedgerMatchesCode,
  assertSchemaCompatible,
  compatibleAheadNote,
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
export { appliedRevisionIds } from './appliedRevisionIds.js';
