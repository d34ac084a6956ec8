import type pg from 'pg';
import { LEDGER_TABLE } from './ledger.js';

/**
 * Every ordinary or partitioned table outside the system schemas, as `schema.table` (the ledger excluded). Compared
 * before and after a revision's SQL, in its transaction, to learn which tables it created or would drop without
 * parsing SQL.
 */
export const listUserTables = async (client: pg.ClientBase): Promise<Set<string>> => {
  const result = await client.query<{ name: string }>(
    `SELECT n.nspname || '.' || c.relname AS name
     FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace
     WHERE c.relkind IN ('r', 'p') AND n.nspname NOT IN ('pg_catalog', 'information_schema') AND n.nspname NOT LIKE 'pg_toast%'
       AND n.nspname NOT LIKE 'pg_temp%'`,
  );
  return new Set(result.rows.map((row) => row.name).filter((name) => name !== LEDGER_TABLE));
};

/** `schema.table` → a quoted identifier. */
export const quoteTable = (name: string): string => {
  const dot = name.indexOf('.');
  const quote = (part: string) => `"${part.replaceAll('"', '""')}"`;
  return `${quote(name.slice(0, dot))}.${quote(name.slice(dot + 1))}`;
};

export const countRows = async (client: pg.ClientBase, table: string): Promise<number> => {
  const result = await client.query<{ n: string }>(`SELECT count(*) AS n FROM ${quoteTable(table)}`);
  return Number(result.rows[0]?.n ?? 0);
};
