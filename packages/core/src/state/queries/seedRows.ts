import { sql, type CommonQueryMethods } from 'slonik';
import { z } from 'zod';

const presentRow = z.object({ table_name: z.string() });

/** The seed tables whose row 1 the migrations create and every governance change locks. */
const SEED_TABLES = ['system_metadata', 'go_live_state'] as const;

/**
 * The seed tables (of SEED_TABLES) whose row 1 is missing; empty when both exist. Used by migration-verify to name
 * the missing row instead of failing later inside a change's transaction.
 */
export const findMissingSeedRows = async (db: CommonQueryMethods): Promise<string[]> => {
  const present = await db.any(sql.type(presentRow)`
    SELECT 'system_metadata' AS table_name FROM public.system_metadata WHERE id = 1
    UNION ALL
    SELECT 'go_live_state' AS table_name FROM public.go_live_state WHERE id = 1
  `);
  const found = new Set(present.map((row) => row.table_name));
  return SEED_TABLES.filter((table) => !found.has(table));
};
