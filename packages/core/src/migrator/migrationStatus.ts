import { MigrationError } from '../errors/index.js';
import type { LedgerRow } from './ledger.js';
import type { RevisionChain } from './revisions.js';

export type MigrationStatus = {
  head: string;
  applied: LedgerRow[];
  pending: string[];
  /** In the ledger but not in the code (newer code applied them: a rollback, or an older process during a deploy). */
  unknown: string[];
  /** The unknown revisions recorded as compatible: this code may run on the database. */
  unknownCompatible: string[];
  /** The unknown revisions recorded as breaking: this code must not run on the database. */
  unknownBreaking: string[];
  /** Applied, but the files changed since (checksum mismatch). */
  edited: string[];
};


export const computeStatus = (chain: RevisionChain, ledger: readonly LedgerRow[]): MigrationStatus => {
  const known = new Map(chain.revisions.map((r) => [r.id, r]));
  const appliedIds = new Set(ledger.map((row) => row.revision));
  const unknownRows = ledger.filter((row) => !known.has(row.revision));
  return {
    head: chain.head,
    applied: [...ledger],
    pending: chain.revisions.filter((r) => !appliedIds.has(r.id)).map((r) => r.id),
    unknown: unknownRows.map((row) => row.revision),
    unknownCompatible: unknownRows.filter((row) => !row.breaking).map((row) => row.revision),
    unknownBreaking: unknownRows.filter((row) => row.breaking).map((row) => row.revision),
    edited: ledger.filter((row) => {
      const revision = known.get(row.revision);
      return revision !== undefined && revision.checksum !== row.checksum;
    }).map((row) => row.revision),
  };
};

/**
 * Whether this code may run on the database at all: what the api and worker check at start.
 * @throws MigrationError MIGRATION_BREAKING_UNKNOWN naming the breaking revisions this code does not know.
 */
export const assertSchemaCompatible = (status: MigrationStatus): void => {
  if (status.unknownBreaking.length > 0) {
    throw new MigrationError(
      'MIGRATION_BREAKING_UNKNOWN',
      `the database has breaking revisions this code does not know: ${status.unknownBreaking.join(', ')}; ` +
        'this release must not run on it (deploy a release that knows them)',
      { revision: status.unknownBreaking[0] as string },
    );
  }
};

/**
 * What `up`/`down` require: no breaking unknown revision, no edited one. Compatible unknown revisions pass (code
 * behind the database), unless revisions of this code are still pending: then the histories diverged.
 * @throws MigrationError MIGRATION_BREAKING_UNKNOWN / MIGRATION_UNKNOWN / MIGRATION_EDITED naming the revisions.
 */
export const assertLedgerMatchesCode = (status: MigrationStatus): void => {
  assertSchemaCompatible(status);
  if (status.unknown.length > 0 && status.pending.length > 0) {
    throw new MigrationError(
      'MIGRATION_UNKNOWN',
      `the database has revisions this code does not know (${status.unknown.join(', ')}) while this code's ` +
        `${status.pending.join(', ')} are not applied: the histories diverged`,
      { revision: status.unknown[0] as string },
    );
  }
  if (status.edited.length > 0) {
    throw new MigrationError(
      'MIGRATION_EDITED',
      `applied revisions were edited after they were applied (checksum mismatch): ${status.edited.join(', ')}`,
      { revision: status.edited[0] as string },
    );
  }
};

/** The note status and verification give when the database is ahead of this code on compatible revisions only. */
export const compatibleAheadNote = (ids: readonly string[]): string =>
  `the database is ahead of this code by compatible revision(s) ${ids.join(', ')} (applied by newer code; a rollback): this code may run on it`;
