import pg from 'pg';
import { MigrationError } from '../errors/index.js';
import type { VerificationCheck } from '../state/model.js';
import { adoptAlembic } from './adoptAlembic.js';
import { sql, type DatabaseTransactionConnection } from 'slonik';
import { createDatabasePool } from '../db/createDatabasePool.js';
import type { AuditKeyring } from '../state/audit/auditKeyring.js';
import { appendAuditEvent } from './appendAuditEvent.js';
import { exportTables } from './exportTables.js';
import {
  deleteLedgerRow,
  ensureLedger,
  insertLedgerRow,
  LEDGER_ORIGINS,
  readLedger,
  repairLedgerChecksum,
  stampLedgerRows,
  type LedgerRow,
} from './ledger.js';
import { planDowngrade, revisionError, type DowngradeStep } from './planDowngrade.js';
import { loadRevisionChain, type Revision, type RevisionChain } from './revisions.js';
import { countRows, listUserTables, quoteTable } from './userTables.js';

export type MigratorOptions = {
  databaseUrl: string;
  migrationsDir: string;
  /** How long `up`/`down` wait for another runner's advisory lock before failing (default 120 s). */
  lockTimeoutMs?: number;
  /**
   * PostgreSQL `lock_timeout` of each revision's transaction (default 5 s): a revision that waits on a busy table
   * fails fast (MIGRATION_BUSY, retryable) instead of queueing every query of the live service behind its lock.
   */
  revisionLockTimeoutMs?: number;
  /** Progress lines (applied, reverted); silent when omitted. */
  log?: (line: string) => void;
};

export type MigrationStatus = {
  head: string;
  applied: LedgerRow[];
  pending: string[];
  /** In the ledger but not in the code (newer code applied them: a rollback, or an older process during a deploy). */
  unknown: string[];
  /** The unknown revisions recorded as compatible: this code may run on the database. */
  unknownCompatible: string[];
  /** The unknown revisions recorded as breaking: this code must not run on the database. */
  unknownBreaking: string[];
  /** Applied, but the files changed since (checksum mismatch). */
  edited: string[];
};

/** The target of `down --to base`: revert every revision, the root included. */
export const BASE_REVISION = 'base';
const DEFAULT_REVISION_LOCK_TIMEOUT_MS = 5_000;

/**
 * Serialises every runner on one database, whatever the process. A session lock (not a transaction lock) because
 * each revision commits in its own transaction while the lock is held.
 */
const LOCK_KEY_SQL = `hashtextextended('valhalla-go-live:migrations', 0)`;

const LOCK_NOT_AVAILABLE = '55P03';

const withClient = async <T>(options: MigratorOptions, fn: (client: pg.Client) => Promise<T>): Promise<T> => {
  // keepAlive: a runner that vanished behind a half-open connection would otherwise hold the session lock until the
  // server noticed, and every other runner would time out waiting for it.
  const client = new pg.Client({
    connectionString: options.databaseUrl,
    application_name: 'valhalla-migrate',
    keepAlive: true,
    connectionTimeoutMillis: 10_000,
  });
  // An error event on an idle client would otherwise crash the process; the failing query reports it instead.
  client.on('error', () => {});
  await client.connect();
  try {
    return await fn(client);
  } finally {
    await client.end().catch(() => {});
  }
};

const withLock = async <T>(client: pg.Client, timeoutMs: number, fn: () => Promise<T>): Promise<T> => {
  try {
    await client.query(`SET lock_timeout = ${Math.max(1, Math.floor(timeoutMs))}`);
    await client.query(`SELECT pg_advisory_lock(${LOCK_KEY_SQL})`);
    await client.query('RESET lock_timeout');
  } catch (cause) {
    if ((cause as { code?: string }).code === LOCK_NOT_AVAILABLE) {
      throw new MigrationError('MIGRATION_LOCK_TIMEOUT', `another migration runner held the lock for more than ${timeoutMs} ms`, { cause });
    }
    throw cause;
  }
  try {
    return await fn();
  } finally {
    await client.query(`SELECT pg_advisory_unlock(${LOCK_KEY_SQL})`).catch(() => {});
  }
};

const computeStatus = (chain: RevisionChain, ledger: readonly LedgerRow[]): MigrationStatus => {
  const known = new Map(chain.revisions.map((r) => [r.id, r]));
  const appliedIds = new Set(ledger.map((row) => row.revision));
  const unknownRows = ledger.filter((row) => !known.has(row.revision));
  return {
    head: chain.head,
    applied: [...ledger],
    pending: chain.revisions.filter((r) => !appliedIds.has(r.id)).map((r) => r.id),
    unknown: unknownRows.map((row) => row.revision),
    unknownCompatible: unknownRows.filter((row) => !row.breaking).map((row) => row.revision),
    unknownBreaking: unknownRows.filter((row) => row.breaking).map((row) => row.revision),
    edited: ledger.filter((row) => {
      const revision = known.get(row.revision);
      return revision !== undefined && revision.checksum !== row.checksum;
    }).map((row) => row.revision),
  };
};

/**
 * Whether this code may run on the database at all: what the api and worker check at start.
 * @throws MigrationError MIGRATION_BREAKING_UNKNOWN naming the breaking revisions this code does not know.
 */
export const assertSchemaCompatible = (status: MigrationStatus): void => {
  if (status.unknownBreaking.length > 0) {
    throw new MigrationError(
      'MIGRATION_BREAKING_UNKNOWN',
      `the database has breaking revisions this code does not know: ${status.unknownBreaking.join(', ')}; ` +
        'this release must not run on it (deploy a release that knows them)',
      { revision: status.unknownBreaking[0] as string },
    );
  }
};

/**
 * What `up`/`down` require: no breaking unknown revision, no edited one. Compatible unknown revisions pass (code
 * behind the database), unless revisions of this code are still pending: then the histories diverged.
 * @throws MigrationError MIGRATION_BREAKING_UNKNOWN / MIGRATION_UNKNOWN / MIGRATION_EDITED naming the revisions.
 */
export const assertLedgerMatchesCode = (status: MigrationStatus): void => {
  assertSchemaCompatible(status);
  if (status.unknown.length > 0 && status.pending.length > 0) {
    throw new MigrationError(
      'MIGRATION_UNKNOWN',
      `the database has revisions this code does not know (${status.unknown.join(', ')}) while this code's ` +
        `${status.pending.join(', ')} are not applied: the histories diverged`,
      { revision: status.unknown[0] as string },
    );
  }
  if (status.edited.length > 0) {
    throw new MigrationError(
      'MIGRATION_EDITED',
      `applied revisions were edited after they were applied (checksum mismatch): ${status.edited.join(', ')}`,
      { revision: status.edited[0] as string },
    );
  }
};

/** The note status and verification give when the database is ahead of this code on compatible revisions only. */
export const compatibleAheadNote = (ids: readonly string[]): string =>
  `the database is ahead of this code by compatible revision(s) ${ids.join(', ')} (applied by newer code; a rollback): this code may run on it`;

const indexOfTarget = (chain: RevisionChain, to: string): number => {
  if (to === BASE_REVISION) return -1;
  const index = chain.revisions.findIndex((r) => r.id === to);
  if (index < 0) throw new MigrationError('MIGRATION_TARGET_UNKNOWN', `revision ${to} is not in the chain`, { revision: to });
  return index;
};

const applyRevision = async (client: pg.Client, revision: Revision, lockTimeoutMs: number): Promise<number> => {
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
const revertRevision = async (
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
const runVerifyScript = async (client: pg.Client, revision: Revision): Promise<VerificationCheck[]> => {
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

export type DownOptions = {
  to: string;
  /** Drop tables holding rows after writing their rows to a file in this folder; without it such a down is refused. */
  exportAndDropDir?: string | undefined;
};

export type DownResult = {
  reverted: string[];
  /** Adopted tables the downs would have dropped and kept. */
  kept: string[];
  /** The export file, when rows were exported. */
  exportPath: string | undefined;
};

/** Who did it and why: stamp and repair are never silent (the keyring signs their audit event). */
export type OperatorIntent = { actor: string; reason: string; keyring: AuditKeyring };

export type Migrator = {
  chain(): Promise<RevisionChain>;
  status(): Promise<MigrationStatus>;
  up(options?: { to?: string }): Promise<{ applied: string[]; adopted: string[]; aheadCompatible: string[] }>;
  down(options: DownOptions): Promise<DownResult>;
  /** Records REV and every revision before it as applied without running them (origin `stamp`), with an audit event. */
  stamp(options: { to: string } & OperatorIntent): Promise<{ stamped: string[] }>;
  /** Accepts the current files of edited applied revisions (new checksums), with an audit event. */
  repair(options: OperatorIntent): Promise<{ repaired: { revision: string; from: string; to: string }[] }>;
  verify(): Promise<{ passed: boolean; checks: VerificationCheck[] }>;
};

/**
 * Runs `fn` in one slonik transaction on a connection of its own that holds the migration lock: stamp and repair
 * write the ledger and their audit event (the audit append function is slonik) together.
 */
const inLockedSlonikTransaction = async <T>(
  options: MigratorOptions,
  lockTimeoutMs: number,
  fn: (tx: DatabaseTransactionConnection) => Promise<T>,
): Promise<T> => {
  const pool = await createDatabasePool({ connectionUri: options.databaseUrl, maxPoolSize: 1, applicationName: 'valhalla-migrate' });
  try {
    return await pool.connect(async (connection) => {
      try {
        await connection.query(sql.unsafe`SET lock_timeout = ${sql.literalValue(String(Math.max(1, Math.floor(lockTimeoutMs))))}`);
        await connection.query(sql.unsafe`SELECT pg_advisory_lock(hashtextextended('valhalla-go-live:migrations', 0))`);
        await connection.query(sql.unsafe`RESET lock_timeout`);
      } catch (cause) {
        throw new MigrationError('MIGRATION_LOCK_TIMEOUT', `another migration runner held the lock for more than ${lockTimeoutMs} ms`, { cause });
      }
      try {
        return await connection.transaction(fn);
      } finally {
        await connection.query(sql.unsafe`SELECT pg_advisory_unlock(hashtextextended('valhalla-go-live:migrations', 0))`).catch(() => {});
      }
    });
  } finally {
    await pool.end();
  }
};

/** The migration runner behind `npm run migrate` and the worker's migration-verify checks. */
export const createMigrator = (options: MigratorOptions): Migrator => {
  const log = options.log ?? (() => {});
  const lockTimeoutMs = options.lockTimeoutMs ?? 120_000;
  const revisionLockTimeoutMs = Math.max(1, Math.floor(options.revisionLockTimeoutMs ?? DEFAULT_REVISION_LOCK_TIMEOUT_MS));
  let chainPromise: Promise<RevisionChain> | undefined;
  const chain = () => {
    chainPromise ??= loadRevisionChain(options.migrationsDir);
    return chainPromise;
  };

  const status = async (): Promise<MigrationStatus> => {
    const revisions = await chain();
    return withClient(options, async (client) => computeStatus(revisions, await readLedger(client)));
  };

  const locked = <T>(fn: (client: pg.Client, revisions: RevisionChain) => Promise<T>): Promise<T> =>
    chain().then((revisions) =>
      withClient(options, (client) =>
        withLock(client, lockTimeoutMs, async () => {
          await ensureLedger(client);
          return fn(client, revisions);
        }),
      ),
    );

  const up = async ({ to }: { to?: string } = {}) => {
    const target = to === undefined ? undefined : indexOfTarget(await chain(), to);
    return locked(async (client, revisions) => {
      const adopted = await adoptAlembic(client, revisions, await readLedger(client));
      if (adopted.length > 0) log(`adopted ${adopted.join(', ')} from alembic_version (applied by the Python service)`);
      const current = computeStatus(revisions, await readLedger(client));
      assertLedgerMatchesCode(current);
      if (current.unknownCompatible.length > 0) log(compatibleAheadNote(current.unknownCompatible));
      const pending = new Set(current.pending);
      const applied: string[] = [];
      for (const revision of revisions.revisions.slice(0, (target ?? revisions.revisions.length - 1) + 1)) {
        if (!pending.has(revision.id)) continue;
        const ms = await applyRevision(client, revision, revisionLockTimeoutMs);
        log(`applied ${revision.id} (${ms} ms)`);
        applied.push(revision.id);
      }
      return { applied, adopted, aheadCompatible: current.unknownCompatible };
    });
  };

  const down = async ({ to, exportAndDropDir }: DownOptions): Promise<DownResult> => {
    const targetIndex = indexOfTarget(await chain(), to);
    return locked(async (client, revisions) => {
      const ledger = await readLedger(client);
      const current = computeStatus(revisions, ledger);
      assertLedgerMatchesCode(current);
      if (current.unknown.length > 0) {
        throw new MigrationError('MIGRATION_UNKNOWN', `revert the revisions this code does not know (${current.unknown.join(', ')}) with the code that knows them first`, {
          revision: current.unknown[0] as string,
        });
      }
      const byId = new Map(ledger.map((row) => [row.revision, row]));
      const toRevert = revisions.revisions.slice(targetIndex + 1).reverse().filter((revision) => byId.has(revision.id));
      const plan = await planDowngrade(client, toRevert, byId, revisionLockTimeoutMs);
      const holding = [...plan.rowCounts].filter(([, rows]) => rows > 0);
      let exportPath: string | undefined;
      if (holding.length > 0) {
        const named = holding.map(([table, rows]) => `${table} (${rows} rows)`).join(', ');
        if (exportAndDropDir === undefined) {
          throw new MigrationError(
            'MIGRATION_DOWN_REFUSED',
            `down --to ${to} would drop tables holding rows: ${named}. Nothing was reverted. ` +
              'Forward-fix instead, or pass --export-and-drop to write the rows to a file first.',
            { revision: toRevert[0]?.id ?? to },
          );
        }
        exportPath = await exportTables(client, holding.map(([table]) => table), exportAndDropDir, `down-to-${to}`);
        log(`exported the rows of ${named} to ${exportPath}`);
      }
      const reverted: string[] = [];
      const kept: string[] = [];
      for (const step of plan.steps) {
        const ms = await revertRevision(client, step, plan.rowCounts, revisionLockTimeoutMs);
        if (step.kept.length > 0) log(`kept adopted table(s) ${step.kept.join(', ')} (they existed before this project created them)`);
        log(`reverted ${step.revision.id} (${ms} ms)`);
        reverted.push(step.revision.id);
        kept.push(...step.kept);
      }
      return { reverted, kept, exportPath };
    });
  };

  const stamp = async ({ to, actor, reason, keyring }: { to: string } & OperatorIntent) => {
    const targetIndex = indexOfTarget(await chain(), to);
    const toStamp = await locked(async (client, revisions) => {
      const current = computeStatus(revisions, await readLedger(client));
      assertSchemaCompatible(current);
      const pending = new Set(current.pending);
      return revisions.revisions.slice(0, targetIndex + 1).filter((revision) => pending.has(revision.id));
    });
    if (toStamp.length === 0) {
      throw new MigrationError('MIGRATION_NOTHING_TO_DO', `${to} and every revision before it are already in the ledger: nothing to stamp`, { revision: to });
    }
    const stamped = toStamp.map((revision) => revision.id);
    await inLockedSlonikTransaction(options, lockTimeoutMs, async (tx) => {
      await stampLedgerRows(tx, toStamp.map((r) => ({ revision: r.id, checksum: r.checksum, breaking: r.breaking })));
      await appendAuditEvent(tx, keyring, { action: 'migration.stamp', actor, reason, details: { stamped, to } });
    });
    log(`stamped ${stamped.join(', ')} as applied (not run), by ${actor}`);
    return { stamped };
  };

  const repair = async ({ actor, reason, keyring }: OperatorIntent) => {
    const repaired = await locked(async (client, revisions) => {
      const ledger = await readLedger(client);
      const current = computeStatus(revisions, ledger);
      assertSchemaCompatible(current);
      const byId = new Map(revisions.revisions.map((r) => [r.id, r]));
      return current.edited.map((id) => ({
        revision: id,
        from: ledger.find((row) => row.revision === id)?.checksum ?? '',
        to: byId.get(id)?.checksum ?? '',
      }));
    });
    if (repaired.length === 0) throw new MigrationError('MIGRATION_NOTHING_TO_DO', 'no applied revision is edited: nothing to repair');
    await inLockedSlonikTransaction(options, lockTimeoutMs, async (tx) => {
      for (const row of repaired) {
        if (!(await repairLedgerChecksum(tx, row))) {
          throw new MigrationError('MIGRATION_FAILED', `revision ${row.revision} changed in the ledger meanwhile; nothing was repaired, run repair again`, {
            revision: row.revision,
          });
        }
      }
      await appendAuditEvent(tx, keyring, { action: 'migration.repair', actor, reason, details: { repaired } });
    });
    log(`repaired ${repaired.map((row) => row.revision).join(', ')}: their current files are accepted, by ${actor}`);
    return { repaired };
  };

  const verify = async (): Promise<{ passed: boolean; checks: VerificationCheck[] }> => {
    const revisions = await chain();
    return withClient(options, async (client) => {
      const current = computeStatus(revisions, await readLedger(client));
      const unknownCheck: VerificationCheck =
        current.unknownBreaking.length > 0
          ? { name: 'no unknown revisions in the ledger', status: 'failed', detail: `breaking revisions unknown to this code: ${current.unknownBreaking.join(', ')}` }
          : current.unknownCompatible.length > 0
            ? { name: 'no unknown revisions in the ledger', status: 'passed', detail: compatibleAheadNote(current.unknownCompatible) }
            : { name: 'no unknown revisions in the ledger', status: 'passed', detail: 'ledger matches the code' };
      const checks: VerificationCheck[] = [
        {
          name: 'all revisions applied',
          status: current.pending.length === 0 ? 'passed' : 'failed',
          detail: current.pending.length === 0 ? `head ${current.head} applied` : `pending: ${current.pending.join(', ')}`,
        },
        {
          name: 'applied revisions unedited',
          status: current.edited.length === 0 ? 'passed' : 'failed',
          detail: current.edited.length === 0 ? 'checksums match' : `edited: ${current.edited.join(', ')}`,
        },
        unknownCheck,
      ];
      const appliedIds = new Set(current.applied.map((row) => row.revision));
      for (const revision of revisions.revisions) {
        if (appliedIds.has(revision.id)) checks.push(...(await runVerifyScript(client, revision)));
      }
      return { passed: checks.every((check) => check.status === 'passed'), checks };
    });
  };

  return { chain, status, up, down, stamp, repair, verify };
};
