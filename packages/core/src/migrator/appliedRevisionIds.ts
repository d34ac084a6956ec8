import { sql, type CommonQueryMethods } from 'slonik';
import { z } from 'zod';
import { LEDGER_TABLE, ledgerTable } from './ledger.js';

const ledgerExists = z.object({ exists: z.boolean() });
const ledgerRow = z.object({ revision: z.string() });

/** The applied revisions, read through the caller's pool: what read models (runbook status) need of the ledger. */
export const appliedRevisionIds = async (db: CommonQueryMethods): Promise<string[]> => {
  const { exists } = await db.one(sql.type(ledgerExists)`SELECT to_regclass(${LEDGER_TABLE}) IS NOT NULL AS exists`);
  if (!exists) return [];
  const rows = await db.any(sql.type(ledgerRow)`
    SELECT revision FROM ${ledgerTable} ORDER BY applied_at, revision
  `);
  return rows.map((row) => row.revision);
};
