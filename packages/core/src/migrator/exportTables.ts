import { mkdir, open } from 'node:fs/promises';
import { join, resolve } from 'node:path';
import { sql, type DatabasePoolConnection } from 'slonik';
import { z } from 'zod';
import { tableIdentifier } from './userTables.js';

/**
 * Writes every row of the tables to one JSON Lines file (`{"table", "row"}` per line, row as jsonb), synced to disk
 * before it returns, so a downgrade drops nothing that is not on disk. Read through a cursor, 5000 rows at a time, in
 * one REPEATABLE READ snapshot. Returns the absolute path.
 */
export const exportTables = async (connection: DatabasePoolConnection, tables: readonly string[], dir: string, label: string): Promise<string> => {
  await mkdir(dir, { recursive: true });
  const path = resolve(join(dir, `${new Date().toISOString().replaceAll(':', '-')}-${label}.jsonl`));
  // The rows may hold what the audit log held: readable by the owner only.
  const file = await open(path, 'wx', 0o600);
  try {
    // Read-only: its commit changes nothing.
    await connection.transaction(async (tx) => {
      await tx.query(sql.unsafe`SET TRANSACTION ISOLATION LEVEL REPEATABLE READ, READ ONLY`);
      for (const table of tables) {
        await tx.query(sql.unsafe`DECLARE valhalla_export NO SCROLL CURSOR FOR SELECT to_jsonb(t) AS row FROM ${tableIdentifier(table)} t`);
        for (;;) {
          const rows = await tx.anyFirst(sql.type(z.object({ row: z.unknown() }))`FETCH 5000 FROM valhalla_export`);
          if (rows.length === 0) break;
          await file.write(rows.map((row) => `${JSON.stringify({ table, row })}\n`).join(''));
        }
        await tx.query(sql.unsafe`CLOSE valhalla_export`);
      }
    }, 0);
    await file.sync();
  } finally {
    await file.close();
  }
  return path;
};
