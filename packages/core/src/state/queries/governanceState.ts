import { sql, type CommonQueryMethods } from 'slonik';
import { AppError } from '../../errors/index.js';
import { goLiveStateRow, systemMetadataRow, type GoLiveStateRow, type StateSnapshot, type SystemMetadataRow } from '../model.js';
import { isLive } from '../rules.js';

export type GovernanceRows = { goLive: GoLiveStateRow; metadata: SystemMetadataRow };

const GO_LIVE_COLUMNS = sql.fragment`id, go_live_enabled, kill_switch_engaged, changed_by, reason, updated_at`;
const METADATA_COLUMNS = sql.fragment`id, version, backend_complete, notes, updated_at, completed_at`;
const lockClause = (lock: boolean) => (lock ? sql.fragment`FOR UPDATE` : sql.fragment``);

const selectRows = async (db: CommonQueryMethods, lock: boolean): Promise<GovernanceRows | null> => {
  // Always go_live_state first, then system_metadata: one lock order for every writer, so no deadlocks.
  const goLive = await db.maybeOne(sql.type(goLiveStateRow)`
    SELECT ${GO_LIVE_COLUMNS} FROM public.go_live_state WHERE id = 1 ${lockClause(lock)}
  `);
  const metadata = await db.maybeOne(sql.type(systemMetadataRow)`
    SELECT ${METADATA_COLUMNS} FROM public.system_metadata WHERE id = 1 ${lockClause(lock)}
  `);
  return goLive === null || metadata === null ? null : { goLive, metadata };
};

/**
 * Row 1 of both tables, locked FOR UPDATE: every governance change takes this lock first, so changes (and the
 * audit chain) are serialised.
 * @throws AppError INTERNAL_ERROR when a seed row is missing (a migration problem; migration-verify names it).
 */
export const lockGovernanceRows = async (tx: CommonQueryMethods): Promise<GovernanceRows> => {
  const rows = await selectRows(tx, true);
  if (rows === null) throw new AppError('INTERNAL_ERROR', 'seed row 1 of go_live_state or system_metadata is missing');
  return rows;
};

/** Row 1 of both tables without locking, for read models; null when a seed row is missing. */
export const readGovernanceRows = async (db: CommonQueryMethods): Promise<GovernanceRows | null> => selectRows(db, false);

export const snapshotOf = (rows: GovernanceRows): StateSnapshot => ({
  go_live_enabled: rows.goLive.go_live_enabled,
  kill_switch_engaged: rows.goLive.kill_switch_engaged,
  live: isLive(rows.goLive),
  version: rows.metadata.version,
  backend_complete: rows.metadata.backend_complete,
  notes: rows.metadata.notes,
});

/** Writes the go-live flags of row 1 with who changed them and why. Timestamps are UTC (the column has no zone). */
export const updateGoLiveState = async (
  tx: CommonQueryMethods,
  change: { goLiveEnabled: boolean; killSwitchEngaged: boolean; changedBy: string; reason: string },
): Promise<void> => {
  await tx.query(sql.unsafe`
    UPDATE public.go_live_state
    SET go_live_enabled = ${change.goLiveEnabled},
        kill_switch_engaged = ${change.killSwitchEngaged},
        changed_by = ${change.changedBy},
        reason = ${change.reason},
        updated_at = (now() AT TIME ZONE 'UTC')
    WHERE id = 1
  `);
};

/** Writes row 1 of system_metadata; `completed_at` records when backend_complete last became true. */
export const updateSystemMetadata = async (
  tx: CommonQueryMethods,
  change: { version: string; backendComplete: boolean; notes: string | null },
): Promise<void> => {
  await tx.query(sql.unsafe`
    UPDATE public.system_metadata
    SET version = ${change.version},
        backend_complete = ${change.backendComplete},
        notes = ${change.notes},
        updated_at = (now() AT TIME ZONE 'UTC'),
        completed_at = CASE
          WHEN ${change.backendComplete} AND NOT backend_complete THEN (now() AT TIME ZONE 'UTC')
          WHEN ${change.backendComplete} THEN completed_at
          ELSE NULL
        END
    WHERE id = 1
  `);
};
