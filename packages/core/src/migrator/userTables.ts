import { sql, type CommonQueryMethods, type IdentifierSqlToken } from 'slonik';
import { z } from 'zod';
import { LEDGER_TABLE } from './ledger.js';

/**
 * Every ordinary or partitioned table outside the system schemas, as `schema.table` (the ledger excluded). Compared
 * before and after a revision's SQL, in its transaction, to learn which tables it created or would drop without
 * parsing SQL.
 */
export const listUserTables = async (db: CommonQueryMethods): Promise<Set<string>> => {
  const names = await db.anyFirst(sql.type(z.object({ name: z.string() }))`
    SELECT n.nspname || '.' || c.relname AS name
    FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace
    WHERE c.relkind IN ('r', 'p') AND n.nspname NOT IN ('pg_catalog', 'information_schema') AND n.nspname NOT LIKE 'pg_toast%'
      AND n.nspname NOT LIKE 'pg_temp%'
  `);
  return new Set(names.filter((name) => name !== LEDGER_TABLE));
};

/** `schema.table` → its identifier (split at the first dot, as listUserTables joins them). */
export const tableIdentifier = (name: string): IdentifierSqlToken => {
  const dot = name.indexOf('.');
  return sql.identifier([name.slice(0, dot), name.slice(dot + 1)]);
};

/** As text: how int8 parses is the caller's pool's choice (a number, a bigint or a string). */
export const countRows = async (db: CommonQueryMethods, table: string): Promise<number> =>
  Number(await db.oneFirst(sql.type(z.object({ n: z.string() }))`SELECT count(*)::text AS n FROM ${tableIdentifier(table)}`));
