import type pg from 'pg';

/** The ledger of applied revisions. Created by the runner under its advisory lock, never by a revision. */
export const LEDGER_TABLE = 'public.valhalla_schema_revisions';

export type LedgerRow = { revision: string; checksum: string; appliedAt: string; durationMs: number };

export const ensureLedger = async (client: pg.ClientBase): Promise<void> => {
  await client.query(`
    CREATE TABLE IF NOT EXISTS ${LEDGER_TABLE} (
      revision TEXT PRIMARY KEY,
      checksum TEXT NOT NULL,
      applied_at TIMESTAMPTZ NOT NULL DEFAULT now(),
      duration_ms INTEGER NOT NULL
    )`);
};

/** Applied revisions in the order they were applied; empty when the ledger does not exist yet. */
export const readLedger = async (client: pg.ClientBase): Promise<LedgerRow[]> => {
  const exists = await client.query<{ exists: boolean }>(`SELECT to_regclass($1) IS NOT NULL AS exists`, [LEDGER_TABLE]);
  if (exists.rows[0]?.exists !== true) return [];
  const result = await client.query<{ revision: string; checksum: string; applied_at: Date; duration_ms: number }>(
    `SELECT revision, checksum, applied_at, duration_ms FROM ${LEDGER_TABLE} ORDER BY applied_at, revision`,
  );
  return result.rows.map((row) => ({
    revision: row.revision,
    checksum: row.checksum,
    appliedAt: row.applied_at.toISOString(),
    durationMs: row.duration_ms,
  }));
};

export const insertLedgerRow = async (client: pg.ClientBase, revision: string, checksum: string, durationMs: number) => {
  await client.query(`INSERT INTO ${LEDGER_TABLE} (revision, checksum, duration_ms) VALUES ($1, $2, $3)`, [
    revision,
    checksum,
    durationMs,
  ]);
};

export const deleteLedgerRow = async (client: pg.ClientBase, revision: string) => {
  await client.query(`DELETE FROM ${LEDGER_TABLE} WHERE revision = $1`, [revision]);
};
