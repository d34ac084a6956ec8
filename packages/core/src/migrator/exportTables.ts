import { mkdir, open } from 'node:fs/promises';
import { join, resolve } from 'node:path';
import type pg from 'pg';
import { quoteTable } from './userTables.js';

const BATCH = 5_000;

/**
 * Writes every row of the tables to one JSON Lines file (`{"table", "row"}` per line, row as jsonb), synced to disk
 * before it returns, so a downgrade drops nothing that is not on disk. Read in batches through a cursor, in one
 * REPEATABLE READ snapshot. Returns the absolute path.
 */
export const exportTables = async (client: pg.ClientBase, tables: readonly string[], dir: string, label: string): Promise<string> => {
  await mkdir(dir, { recursive: true });
  const path = resolve(join(dir, `${new Date().toISOString().replaceAll(':', '-')}-${label}.jsonl`));
  // The rows may hold what the audit log held: readable by the owner only.
  const file = await open(path, 'wx', 0o600);
  try {
    await client.query('BEGIN ISOLATION LEVEL REPEATABLE READ READ ONLY');
    try {
      for (const table of tables) {
        await client.query(`DECLARE valhalla_export NO SCROLL CURSOR FOR SELECT to_jsonb(t) AS row FROM ${quoteTable(table)} t`);
        for (;;) {
          const batch = await client.query<{ row: unknown }>(`FETCH ${BATCH} FROM valhalla_export`);
          if (batch.rows.length === 0) break;
          await file.write(batch.rows.map(({ row }) => `${JSON.stringify({ table, row })}\n`).join(''));
        }
        await client.query('CLOSE valhalla_export');
      }
    } finally {
      await client.query('ROLLBACK').catch(() => {});
    }
    await file.sync();
  } finally {
    await file.close();
  }
  return path;
};
