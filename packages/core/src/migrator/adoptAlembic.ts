import { sql, type DatabasePoolConnection } from 'slonik';
import { z } from 'zod';
import { MigrationError } from '../errors/index.js';
import { insertLedgerRow, LEDGER_ORIGINS, type LedgerRow } from './ledger.js';
import type { RevisionChain } from './revisions.js';

/**
 * The revisions the Python service applied with Alembic (the origin report's), with the tables each leaves. Every
 * later revision of this chain exists only here: an `alembic_version` that names one was not written by the service.
 */
const PYTHON_SERVICE_REVISIONS: ReadonlyMap<string, readonly string[]> = new Map([
  ['20260113_golive_merge', []],
  ['20260121_go_live_core_tables', ['public.system_metadata', 'public.go_live_state']],
]);

const tableExists = async (connection: DatabasePoolConnection, table: string): Promise<boolean> =>
  connection.oneFirst(sql.type(z.object({ exists: z.boolean() }))`SELECT to_regclass(${table}) IS NOT NULL AS exists`);

/**
 * Adopts the Python service's Alembic history: when `public.alembic_version` names a revision of this chain, that
 * revision and every one before it that the ledger lacks are recorded as applied with origin `alembic` (applied_at
 * is the time of adoption) without running their SQL: Alembic already did. Only the revisions the service can have
 * applied are adopted, and only when their tables are there: a version stamped by hand at a later revision would
 * otherwise record the whole chain as applied on a database without a product table, and `up` and `status` would
 * report success. `alembic_version` is left as it is, so the Python service can still read its own history. No table
 * counts as created by these revisions: downgrades keep them (see down). Must run under the migration lock, before
 * pending revisions are computed.
 * @throws MigrationError MIGRATION_ALEMBIC_UNKNOWN naming the Alembic revision when this chain does not know it;
 *   MIGRATION_ALEMBIC_UNADOPTABLE when it names a later revision the ledger lacks, or the adopted tables are missing.
 */
export const adoptAlembic = async (connection: DatabasePoolConnection, chain: RevisionChain, ledger: readonly LedgerRow[]): Promise<string[]> => {
  if (!(await tableExists(connection, 'public.alembic_version'))) return [];
  const versions = await connection.anyFirst(sql.type(z.object({ version_num: z.string() }))`SELECT version_num FROM public.alembic_version`);
  const ids = chain.revisions.map((revision) => revision.id);
  const unknown = versions.filter((version) => !ids.includes(version));
  if (unknown.length > 0) {
    throw new MigrationError(
      'MIGRATION_ALEMBIC_UNKNOWN',
      `alembic_version stands at ${unknown.join(', ')}, which this revision chain does not know (it knows ${ids.join(', ')}); ` +
        'the database was not adopted and nothing was applied. Bring the Python service to a revision of this chain, or ' +
        'migrate from code that knows it.',
      { revision: unknown[0] as string },
    );
  }
  if (versions.length === 0) return [];
  const upTo = Math.max(...versions.map((version) => ids.indexOf(version)));
  const recorded = new Set(ledger.map((row) => row.revision));
  const adopted = chain.revisions.slice(0, upTo + 1).filter((revision) => !recorded.has(revision.id));
  if (adopted.length === 0) return [];
  const beyond = adopted.filter((revision) => !PYTHON_SERVICE_REVISIONS.has(revision.id));
  if (beyond.length > 0) {
    throw new MigrationError(
      'MIGRATION_ALEMBIC_UNADOPTABLE',
      `alembic_version stands at ${versions.join(', ')}, but the Python service can only have applied ${[...PYTHON_SERVICE_REVISIONS.keys()].join(' and ')}; ` +
        `${beyond.map((revision) => revision.id).join(', ')} exist only in this chain, so alembic_version was not written by it. ` +
        'The database was not adopted and nothing was applied: set alembic_version to the revision the service really reached, or remove it.',
      { revision: beyond[0]?.id ?? '' },
    );
  }
  const expected = adopted.flatMap((revision) => PYTHON_SERVICE_REVISIONS.get(revision.id) ?? []);
  const missing: string[] = [];
  for (const table of expected) {
    if (!(await tableExists(connection, table))) missing.push(table);
  }
  if (missing.length > 0) {
    throw new MigrationError(
      'MIGRATION_ALEMBIC_UNADOPTABLE',
      `alembic_version stands at ${versions.join(', ')}, but ${missing.join(' and ')} ${missing.length === 1 ? 'does' : 'do'} not exist: ` +
        'the database was not adopted and nothing was applied. Remove alembic_version to let migrate up create the tables.',
      { revision: adopted.at(-1)?.id ?? '' },
    );
  }
  await connection.transaction(async (tx) => {
    for (const revision of adopted) {
      await insertLedgerRow(tx, {
        revision: revision.id,
        checksum: revision.checksum,
        durationMs: 0,
        breaking: revision.breaking,
        origin: LEDGER_ORIGINS.alembic,
        createdTables: [],
      });
    }
  }, 0);
  return adopted.map((revision) => revision.id);
};
