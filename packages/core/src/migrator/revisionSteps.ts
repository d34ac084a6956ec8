import type pg from 'pg';
import type { VerificationCheck } from '@valhalla/contract';
import { MigrationError } from '../errors/index.js';
import { deleteLedgerRow, insertLedgerRow, LEDGER_ORIGINS } from './ledger.js';
import { revisionError, type DowngradeStep } from './planDowngrade.js';
import type { Revision } from './revisions.js';
import { countRows, listUserTables, quoteTable } from './userTables.js';

export const applyRevision = async (client: pg.Client, revision: Revision, lockTimeoutMs: number): Promise<number> => {
  const started = performance.now();
  await client.query('BEGIN');
  try {
    await client.query(`SET LOCAL lock_timeout = ${lockTimeoutMs}`);
    const before = await listUserTables(client);
    await client.query(revision.up);
    const createdTables = [...(await listUserTables(client))].filter((table) => !before.has(table)).sort();
    const durationMs = Math.round(performance.now() - started);
    await insertLedgerRow(client, {
      revision: revision.id,
      checksum: revision.checksum,
      durationMs,
      breaking: revision.breaking,
      origin: LEDGER_ORIGINS.valhalla,
      createdTables,
    });
    await client.query('COMMIT');
    return durationMs;
  } catch (cause) {
    await client.query('ROLLBACK').catch(() => {});
    throw revisionError(revision.id, 'up', cause, lockTimeoutMs);
  }
};

/**
 * Reverts one revision, keeping its adopted tables: they are renamed aside while its down runs and renamed back in
 * the same transaction, so `DROP TABLE IF EXISTS` finds nothing. Its own tables are locked and recounted first: a
 * row written since the plan (or the export) refuses the step.
 */
export const revertRevision = async (
  client: pg.Client,
  step: DowngradeStep,
  expectedRows: ReadonlyMap<string, number>,
  lockTimeoutMs: number,
): Promise<number> => {
  const started = performance.now();
  await client.query('BEGIN');
  try {
    await client.query(`SET LOCAL lock_timeout = ${lockTimeoutMs}`);
    for (const table of step.drops) {
      await client.query(`LOCK TABLE ${quoteTable(table)} IN ACCESS EXCLUSIVE MODE`);
      const rows = await countRows(client, table);
      if (rows !== (expectedRows.get(table) ?? 0)) {
        throw new MigrationError(
          'MIGRATION_DOWN_REFUSED',
          `${table} now holds ${rows} rows (${expectedRows.get(table) ?? 0} when checked): rows were written meanwhile; nothing of revision ${step.revision.id} was reverted, run down again`,
          { revision: step.revision.id },
        );
      }
    }
    const aside = step.kept.map((table, i) => ({ table, schema: table.slice(0, table.indexOf('.')), name: table.slice(table.indexOf('.') + 1), temp: `valhalla_kept_${i}` }));
    for (const t of aside) await client.query(`ALTER TABLE ${quoteTable(t.table)} RENAME TO "${t.temp}"`);
    await client.query(step.revision.down);
    for (const t of aside) await client.query(`ALTER TABLE ${quoteTable(`${t.schema}.${t.temp}`)} RENAME TO "${t.name.replaceAll('"', '""')}"`);
    await deleteLedgerRow(client, step.revision.id);
    await client.query('COMMIT');
    return Math.round(performance.now() - started);
  } catch (cause) {
    await client.query('ROLLBACK').catch(() => {});
    throw revisionError(step.revision.id, 'down', cause, lockTimeoutMs);
  }
};

/** Runs one verify script read-only and rolls it back; every returned row must be ok. */
export const runVerifyScript = async (client: pg.Client, revision: Revision): Promise<VerificationCheck[]> => {
  await client.query('BEGIN READ ONLY');
  try {
    const raw = (await client.query(revision.verify)) as pg.QueryResult | pg.QueryResult[];
    const rows = (Array.isArray(raw) ? raw : [raw]).flatMap((result) => result.rows as { check_name?: unknown; ok?: unknown }[]);
    if (rows.length === 0) {
      return [{ name: `revision ${revision.id} verify`, status: 'error', detail: 'verify.sql returned no rows' }];
    }
    return rows.map((row) => ({
      name: `revision ${revision.id}: ${String(row.check_name)}`,
      status: row.ok === true ? 'passed' : 'failed',
      detail: row.ok === true ? 'ok' : 'check returned false',
    }));
  } catch (error) {
    return [{ name: `revision ${revision.id} verify`, status: 'error', detail: error instanceof Error ? error.message : String(error) }];
  } finally {
    await client.query('ROLLBACK').catch(() => {});
  }
};
