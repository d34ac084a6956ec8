import { sql, type CommonQueryMethods } from 'slonik';
import { z } from 'zod';

const LEDGER_SCHEMA = 'public';
const LEDGER_NAME = 'valhalla_schema_revisions';

/** The ledger of applied revisions. Created and extended by the runner under its advisory lock, never by a revision. */
export const LEDGER_TABLE = `${LEDGER_SCHEMA}.${LEDGER_NAME}`;

/** The ledger in a query. */
export const ledgerTable = sql.identifier([LEDGER_SCHEMA, LEDGER_NAME]);

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

/** Columns later versions of the runner added to the ledger. */
const LATER_COLUMNS = [
  { name: 'breaking', definition: sql.fragment`breaking BOOLEAN NOT NULL DEFAULT FALSE` },
  { name: 'origin', definition: sql.fragment`origin TEXT NOT NULL DEFAULT ${sql.literalValue(LEDGER_ORIGINS.valhalla)}` },
  { name: 'created_tables', definition: sql.fragment`created_tables TEXT[] NULL` },
] as const;

/**
 * Creates the ledger, and adds the columns later versions need. Idempotent; each ALTER is skipped when the column
 * exists, so an up-to-date database takes no ACCESS EXCLUSIVE lock on the ledger.
 */
export const ensureLedger = async (db: CommonQueryMethods): Promise<void> => {
  await db.query(sql.unsafe`
    CREATE TABLE IF NOT EXISTS ${ledgerTable} (
      revision TEXT PRIMARY KEY,
      checksum TEXT NOT NULL,
      applied_at TIMESTAMPTZ NOT NULL DEFAULT now(),
      duration_ms INTEGER NOT NULL
    )`);
  const have = new Set(
    await db.anyFirst(sql.type(z.object({ column_name: z.string() }))`
      SELECT column_name FROM information_schema.columns WHERE table_schema = ${LEDGER_SCHEMA} AND table_name = ${LEDGER_NAME}
    `),
  );
  const additions = LATER_COLUMNS.filter((column) => !have.has(column.name)).map(({ definition }) => sql.fragment`ADD COLUMN IF NOT EXISTS ${definition}`);
  if (additions.length > 0) await db.query(sql.unsafe`ALTER TABLE ${ledgerTable} ${sql.join(additions, sql.fragment`, `)}`);
};

const rawLedgerRow = z.object({
  revision: z.string(),
  checksum: z.string(),
  applied_at: z.string(),
  duration_ms: z.number(),
  breaking: z.boolean().optional(),
  origin: z.string().optional(),
  created_tables: z.array(z.string()).nullable().optional(),
});

const toOrigin = (value: string | undefined): LedgerOrigin =>
  value === LEDGER_ORIGINS.alembic || value === LEDGER_ORIGINS.stamp ? value : LEDGER_ORIGINS.valhalla;

/**
 * Applied revisions in the order they were applied; empty when the ledger does not exist yet. Read as jsonb so a
 * ledger not yet extended (read-only `status` before the first `up` of this version) reads with defaults.
 */
export const readLedger = async (db: CommonQueryMethods): Promise<LedgerRow[]> => {
  if (!(await db.oneFirst(sql.type(z.object({ exists: z.boolean() }))`SELECT to_regclass(${LEDGER_TABLE}) IS NOT NULL AS exists`))) return [];
  const rows = await db.anyFirst(sql.type(z.object({ row: rawLedgerRow }))`SELECT to_jsonb(l) AS row FROM ${ledgerTable} l ORDER BY applied_at, revision`);
  return rows.map((row) => ({
    revision: row.revision,
    checksum: row.checksum,
    appliedAt: new Date(row.applied_at).toISOString(),
    durationMs: row.duration_ms,
    breaking: row.breaking === true,
    origin: toOrigin(row.origin),
    createdTables: row.created_tables ?? null,
  }));
};

/** A plain INSERT: a revision recorded meanwhile by another runner fails the write instead of being skipped. */
export const insertLedgerRow = async (
  db: CommonQueryMethods,
  row: { revision: string; checksum: string; durationMs: number; breaking: boolean; origin: LedgerOrigin; createdTables: readonly string[] },
): Promise<void> => {
  await db.query(sql.unsafe`
    INSERT INTO ${ledgerTable} (revision, checksum, duration_ms, breaking, origin, created_tables)
    VALUES (${row.revision}, ${row.checksum}, ${row.durationMs}, ${row.breaking}, ${row.origin}, ${sql.array([...row.createdTables], 'text')})
  `);
};

export const deleteLedgerRow = async (db: CommonQueryMethods, revision: string): Promise<void> => {
  await db.query(sql.unsafe`DELETE FROM ${ledgerTable} WHERE revision = ${revision}`);
};

/** @returns false when the row no longer has checksum `from` (changed meanwhile). */
export const repairLedgerChecksum = async (db: CommonQueryMethods, row: { revision: string; from: string; to: string }): Promise<boolean> => {
  const result = await db.query(sql.unsafe`UPDATE ${ledgerTable} SET checksum = ${row.to} WHERE revision = ${row.revision} AND checksum = ${row.from}`);
  return result.rowCount === 1;
};
