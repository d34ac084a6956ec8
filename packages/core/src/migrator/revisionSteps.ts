import { sql, type DatabasePoolConnection } from 'slonik';
import type { VerificationCheck } from '@valhalla/contract';
import { serverMessageOf } from '../db/sqlstate.js';
import { MigrationError } from '../errors/index.js';
import { deleteLedgerRow, insertLedgerRow, LEDGER_ORIGINS } from './ledger.js';
import { revisionError, type DowngradeStep } from './planDowngrade.js';
import type { Revision } from './revisions.js';
import { setLocalLockTimeout } from './setLocalLockTimeout.js';
import { querySqlFile, runSqlFile } from './sqlFiles.js';
import { countRows, listUserTables, tableIdentifier } from './userTables.js';

/** Applies one revision and writes its ledger row in one transaction. @returns how long it took, in ms. */
export const applyRevision = async (connection: DatabasePoolConnection, revision: Revision, lockTimeoutMs: number): Promise<number> => {
  const started = performance.now();
  try {
    return await connection.transaction(async (tx) => {
      await setLocalLockTimeout(tx, lockTimeoutMs);
      const before = await listUserTables(tx);
      await runSqlFile(tx, revision.up);
      const createdTables = [...(await listUserTables(tx))].filter((table) => !before.has(table)).sort();
      const durationMs = Math.round(performance.now() - started);
      await insertLedgerRow(tx, {
        revision: revision.id,
        checksum: revision.checksum,
        durationMs,
        breaking: revision.breaking,
        origin: LEDGER_ORIGINS.valhalla,
        createdTables,
      });
      return durationMs;
    }, 0);
  } catch (cause) {
    throw revisionError(revision.id, 'up', cause, lockTimeoutMs);
  }
};

/**
 * Reverts one revision, keeping its adopted tables: they are renamed aside while its down runs and renamed back in
 * the same transaction, so `DROP TABLE IF EXISTS` finds nothing. Its own tables are locked and recounted first: a
 * row written since the plan (or the export) refuses the step.
 */
export const revertRevision = async (
  connection: DatabasePoolConnection,
  step: DowngradeStep,
  expectedRows: ReadonlyMap<string, number>,
  lockTimeoutMs: number,
): Promise<number> => {
  const started = performance.now();
  try {
    await connection.transaction(async (tx) => {
      await setLocalLockTimeout(tx, lockTimeoutMs);
      for (const table of step.drops) {
        await tx.query(sql.unsafe`LOCK TABLE ${tableIdentifier(table)} IN ACCESS EXCLUSIVE MODE`);
        const rows = await countRows(tx, table);
        if (rows !== (expectedRows.get(table) ?? 0)) {
          throw new MigrationError(
            'MIGRATION_DOWN_REFUSED',
            `${table} now holds ${rows} rows (${expectedRows.get(table) ?? 0} when checked): rows were written meanwhile; nothing of revision ${step.revision.id} was reverted, run down again`,
            { revision: step.revision.id },
          );
        }
      }
      const aside = step.kept.map((table, i) => ({ table, schema: table.slice(0, table.indexOf('.')), name: table.slice(table.indexOf('.') + 1), temp: `valhalla_kept_${i}` }));
      for (const t of aside) await tx.query(sql.unsafe`ALTER TABLE ${tableIdentifier(t.table)} RENAME TO ${sql.identifier([t.temp])}`);
      await runSqlFile(tx, step.revision.down);
      for (const t of aside) await tx.query(sql.unsafe`ALTER TABLE ${sql.identifier([t.schema, t.temp])} RENAME TO ${sql.identifier([t.name])}`);
      await deleteLedgerRow(tx, step.revision.id);
    }, 0);
    return Math.round(performance.now() - started);
  } catch (cause) {
    throw revisionError(step.revision.id, 'down', cause, lockTimeoutMs);
  }
};

/** Runs one verify script in a read-only transaction of its own; every returned row must be ok. */
export const runVerifyScript = async (connection: DatabasePoolConnection, revision: Revision): Promise<VerificationCheck[]> => {
  try {
    const rows = await connection.transaction((tx) => querySqlFile(tx, revision.verify), 0);
    if (rows.length === 0) {
      return [{ name: `revision ${revision.id} verify`, status: 'error', detail: 'verify.sql returned no rows' }];
    }
    return rows.map((row) => ({
      name: `revision ${revision.id}: ${String(row.check_name)}`,
      status: row.ok === true ? 'passed' : 'failed',
      detail: row.ok === true ? 'ok' : 'check returned false',
    }));
  } catch (error) {
    return [{ name: `revision ${revision.id} verify`, status: 'error', detail: serverMessageOf(error) }];
  }
};
