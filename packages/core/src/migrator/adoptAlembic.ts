import type pg from 'pg';
import { MigrationError } from '../errors/index.js';
import { insertLedgerRow, LEDGER_ORIGINS, type LedgerRow } from './ledger.js';
import type { RevisionChain } from './revisions.js';

/**
 * Adopts the Python service's Alembic history: when `public.alembic_version` names a revision of this chain, that
 * revision and every one before it that the ledger lacks are recorded as applied with origin `alembic` (applied_at
 * is the time of adoption) without running their SQL: Alembic already did. `alembic_version` is left as it is, so the
 * Python service can still read its own history. No table counts as created by these revisions: downgrades keep
 * them (see down). Must run under the migration lock, before pending revisions are computed.
 * @throws MigrationError MIGRATION_ALEMBIC_UNKNOWN naming the Alembic revision when this chain does not know it.
 */
export const adoptAlembic = async (client: pg.ClientBase, chain: RevisionChain, ledger: readonly LedgerRow[]): Promise<string[]> => {
  const exists = await client.query<{ exists: boolean }>(`SELECT to_regclass('public.alembic_version') IS NOT NULL AS exists`);
  if (exists.rows[0]?.exists !== true) return [];
  const versions = (await client.query<{ version_num: string }>('SELECT version_num FROM public.alembic_version')).rows.map((row) => row.version_num);
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
  await client.query('BEGIN');
  try {
    for (const revision of adopted) {
      await insertLedgerRow(client, {
        revision: revision.id,
        checksum: revision.checksum,
        durationMs: 0,
        breaking: revision.breaking,
        origin: LEDGER_ORIGINS.alembic,
        createdTables: [],
      });
    }
    await client.query('COMMIT');
  } catch (error) {
    await client.query('ROLLBACK').catch(() => {});
    throw error;
  }
  return adopted.map((revision) => revision.id);
};
