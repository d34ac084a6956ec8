import { sql, type CommonQueryMethods } from 'slonik';
import { z } from 'zod';
import { AppError } from '../../errors/index.js';
import { goLiveStateRow, systemMetadataRow, type GoLiveStateRow, type StateSnapshot, type SystemMetadataRow } from '@valhalla/contract';
import { isLive, type SafetyWatermarks } from '../rules/rules.js';
import { toSafetyWatermarks, watermarksJson } from './safetyWatermarks.js';

export type GovernanceRows = {
  goLive: GoLiveStateRow;
  metadata: SystemMetadataRow;
  /** Row 1 of governance_safety_watermarks: the supersession watermarks (see rules.ts decideChange). */
  watermarks: SafetyWatermarks;
};

const lockClause = (lock: boolean) => (lock ? sql.fragment`FOR UPDATE OF g, m` : sql.fragment``);

// The product's own writes to these rows are marked with a transaction-local setting, so the outside-write triggers
// (migration 20260210_audit_chain_keyed) record only writes made by something else. Set in the locking statement
// that every product writer runs first: no extra round trip.
const markProductWrite = (lock: boolean) =>
  lock ? sql.fragment`, set_config('valhalla.change', 'on', true) AS product_write` : sql.fragment``;

const bothRows = z.object({
  g_id: z.number(),
  go_live_enabled: z.boolean(),
  kill_switch_engaged: z.boolean(),
  changed_by: z.string().nullable(),
  reason: z.string().nullable(),
  g_updated_at: z.string().nullable(),
  watermarks: watermarksJson,
  m_id: z.number(),
  version: z.string(),
  backend_complete: z.boolean(),
  notes: z.string().nullable(),
  m_updated_at: z.string().nullable(),
  completed_at: z.string().nullable(),
});

/** Both rows in one round trip; FOR UPDATE OF g, m locks them in one statement, so every writer locks alike. */
const selectRows = async (db: CommonQueryMethods, lock: boolean): Promise<GovernanceRows | null> => {
  const row = await db.maybeOne(sql.type(bothRows)`
    SELECT g.id AS g_id, g.go_live_enabled, g.kill_switch_engaged, g.changed_by, g.reason, g.updated_at AS g_updated_at,
           to_jsonb(w) AS watermarks,
           m.id AS m_id, m.version, m.backend_complete, m.notes, m.updated_at AS m_updated_at, m.completed_at
           ${markProductWrite(lock)}
    FROM public.go_live_state g CROSS JOIN public.system_metadata m
    LEFT JOIN public.governance_safety_watermarks w ON w.id = 1
    WHERE g.id = 1 AND m.id = 1
    ${lockClause(lock)}
  `);
  if (row === null) return null;
  return {
    goLive: goLiveStateRow.parse({
      id: row.g_id,
      go_live_enabled: row.go_live_enabled,
      kill_switch_engaged: row.kill_switch_engaged,
      changed_by: row.changed_by,
      reason: row.reason,
      updated_at: row.g_updated_at,
    }),
    metadata: systemMetadataRow.parse({
      id: row.m_id,
      version: row.version,
      backend_complete: row.backend_complete,
      notes: row.notes,
      updated_at: row.m_updated_at,
      completed_at: row.completed_at,
    }),
    watermarks: toSafetyWatermarks(row.watermarks),
  };
};

/**
 * Row 1 of both tables, locked FOR UPDATE: every governance change takes this lock first, so changes (and the
 * audit chain) are serialised. The watermarks come from the statement's snapshot, taken before a wait for the lock:
 * a writer that decides on them uses lockChangeContext (changeContext.ts), which reads them after the lock.
 * @throws AppError INTERNAL_ERROR when a seed row is missing (a migration problem; migration-verify names it).
 */
export const lockGovernanceRows = async (tx: CommonQueryMethods): Promise<GovernanceRows> => {
  const rows = await selectRows(tx, true);
  if (rows === null) throw new AppError('INTERNAL_ERROR', 'seed row 1 of go_live_state or system_metadata is missing');
  return rows;
};

/** Row 1 of both tables without locking, for read models; null when a seed row is missing. */
export const readGovernanceRows = async (db: CommonQueryMethods): Promise<GovernanceRows | null> => selectRows(db, false);

/** The state an audit entry records, from row 1 of both tables (only the columns the rules decide on). */
export const snapshotOf = (rows: {
  goLive: Pick<GoLiveStateRow, 'go_live_enabled' | 'kill_switch_engaged'>;
  metadata: Pick<SystemMetadataRow, 'version' | 'backend_complete' | 'notes'>;
}): StateSnapshot => ({
  go_live_enabled: rows.goLive.go_live_enabled,
  kill_switch_engaged: rows.goLive.kill_switch_engaged,
  live: isLive(rows.goLive),
  version: rows.metadata.version,
  backend_complete: rows.metadata.backend_complete,
  notes: rows.metadata.notes,
});
