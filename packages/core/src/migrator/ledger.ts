import type pg from 'pg';
import { sql, type CommonQueryMethods } from 'slonik';

/** The ledger of applied revisions. Created and extended by the runner under its advisory lock, never by a revision. */
export const LEDGER_TABLE = 'public.valhalla_schema_revisions';

/** Who recorded a ledger row: this runner applying the SQL, adoption of the Python service's Alembic history, or an operator's stamp. */
export const LEDGER_ORIGINS = { valhalla: 'valhalla', alembic: 'alembic', stamp: 'stamp' } as const;
export type LedgerOrigin = (typeof LEDGER_ORIGINS)[keyof typeof LEDGER_ORIGINS];

export type LedgerRow = {
  revision: string;
  checksum: string;
  appliedAt: string;
  durationMs: number;
  /** The revision's `breaking` flag when it was applied: what older code reads to decide whether it may run. */
  breaking: boolean;
  origin: LedgerOrigin;
  /**
   * Tables this revision's up created (they did not exist before it ran). A downgrade drops only these; every other
   * table its down would drop existed before (adopted) and is kept. Null when unknown (rows written before the column
   * existed): then every table counts as adopted.
   */
  createdTables: string[] | null;
};

/**
 * Creates the ledger, and adds the columns later versions need. Idempotent; each ALTER is skipped when the column
 * exists, so an up-to-date database takes no ACCESS EXCLUSIVE lock on the ledger.
 */
export const ensureLedger = async (client: pg.ClientBase): Promise<void> => {
  await client.query(`
    CREATE TABLE IF NOT EXISTS ${LEDGER_TABLE} (
      revision TEXT PRIMARY KEY,
      checksum TEXT NOT NULL,
      applied_at TIMESTAMPTZ NOT NULL DEFAULT now(),
      duration_ms INTEGER NOT NULL
    )`);
  const columns = await client.query<{ column_name: string }>(
    `SELECT column_name FROM information_schema.columns WHERE table_schema = 'public' AND table_name = 'valhalla_schema_revisions'`,
  );
  const have = new Set(columns.rows.map((row) => row.column_name));
  const additions = [
    ['breaking', 'BOOLEAN NOT NULL DEFAULT FALSE'],
    ['origin', `TEXT NOT NULL DEFAULT 'valhalla'`],
    ['created_tables', 'TEXT[] NULL'],
  ].filter(([name]) => !have.has(name as string));
  if (additions.length > 0) {
    await client.query(`ALTER TABLE ${LEDGER_TABLE} ${additions.map(([name, type]) => `ADD COLUMN IF NOT EXISTS ${name} ${type}`).join(', ')}`);
  }
};

type RawLedgerRow = {
  revision: string;
  checksum: string;
  applied_at: string;
  duration_ms: number;
  breaking?: boolean;
  origin?: string;
  created_tables?: string[] | null;
};

const toOrigin = (value: string | undefined): LedgerOrigin =>
  value === LEDGER_ORIGINS.alembic || value === LEDGER_ORIGINS.stamp ? value : LEDGER_ORIGINS.valhalla;

/**
 * Applied revisions in the order they were applied; empty when the ledger does not exist yet. Read as jsonb so a
 * ledger not yet extended (read-only `status` before the first `up` of this version) reads with defaults.
 */
export const readLedger = async (client: pg.ClientBase): Promise<LedgerRow[]> => {
  const exists = await client.query<{ exists: boolean }>(`SELECT to_regclass($1) IS NOT NULL AS exists`, [LEDGER_TABLE]);
  if (exists.rows[0]?.exists !== true) return [];
  const result = await client.query<{ row: RawLedgerRow }>(
    `SELECT to_jsonb(l) AS row FROM ${LEDGER_TABLE} l ORDER BY applied_at, revision`,
  );
  return result.rows.map(({ row }) => ({
    revision: row.revision,
    checksum: row.checksum,
    appliedAt: new Date(row.applied_at).toISOString(),
    durationMs: row.duration_ms,
    breaking: row.breaking === true,
    origin: toOrigin(row.origin),
    createdTables: row.created_tables ?? null,
  }));
};

export const insertLedgerRow = async (
  client: pg.ClientBase,
  row: { revision: string; checksum: string; durationMs: number; breaking: boolean; origin: LedgerOrigin; createdTables: readonly string[] },
) => {
  await client.query(
    `INSERT INTO ${LEDGER_TABLE} (revision, checksum, duration_ms, breaking, origin, created_tables) VALUES ($1, $2, $3, $4, $5, $6)`,
    [row.revision, row.checksum, row.durationMs, row.breaking, row.origin, [...row.createdTables]],
  );
};

export const deleteLedgerRow = async (client: pg.ClientBase, revision: string) => {
  await client.query(`DELETE FROM ${LEDGER_TABLE} WHERE revision = $1`, [revision]);
};

/**
 * The ledger writes of stamp and repair, in slonik: they share a transaction with the audit event, which is written
 * through the audit append function (slonik).
 */
export const stampLedgerRows = async (
  tx: CommonQueryMethods,
  rows: readonly { revision: string; checksum: string; breaking: boolean }[],
): Promise<void> => {
  for (const row of rows) {
    // A plain INSERT: a revision recorded meanwhile by another runner fails the stamp instead of being skipped.
    await tx.query(sql.unsafe`
      INSERT INTO ${sql.identifier(['public', 'valhalla_schema_revisions'])} (revision, checksum, duration_ms, breaking, origin, created_tables)
      VALUES (${row.revision}, ${row.checksum}, 0, ${row.breaking}, ${LEDGER_ORIGINS.stamp}, '{}')
    `);
  }
};

/** @returns false when the row no longer has checksum `from` (changed meanwhile). */
export const repairLedgerChecksum = async (tx: CommonQueryMethods, row: { revision: string; from: string; to: string }): Promise<boolean> => {
  const result = await tx.query(sql.unsafe`
    UPDATE ${sql.identifier(['public', 'valhalla_schema_revisions'])} SET checksum = ${row.to}
    WHERE revision = ${row.revision} AND checksum = ${row.from}
  `);
  return result.rowCount === 1;
};
