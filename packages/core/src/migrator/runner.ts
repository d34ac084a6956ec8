import pg from 'pg';
import { MigrationError } from '../errors/index.js';
import type { VerificationCheck } from '../state/model.js';
import { deleteLedgerRow, ensureLedger, insertLedgerRow, readLedger, type LedgerRow } from './ledger.js';
import { loadRevisionChain, type Revision, type RevisionChain } from './revisions.js';

export type MigratorOptions = {
  databaseUrl: string;
  migrationsDir: string;
  /** How long `up`/`down` wait for another runner's lock before failing (default 120 s). */
  lockTimeoutMs?: number;
  /** Progress lines (applied, reverted); silent when omitted. */
  log?: (line: string) => void;
};

export type MigrationStatus = {
  head: string;
  applied: LedgerRow[];
  pending: string[];
  /** In the ledger but not in the code. */
  unknown: string[];
  /** Applied, but the files changed since (checksum mismatch). */
  edited: string[];
};

/** The target of `down --to base`: revert every revision, the root included. */
export const BASE_REVISION = 'base';

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
  return {
    head: chain.head,
    applied: [...ledger],
    pending: chain.revisions.filter((r) => !appliedIds.has(r.id)).map((r) => r.id),
    unknown: ledger.filter((row) => !known.has(row.revision)).map((row) => row.revision),
    edited: ledger.filter((row) => {
      const revision = known.get(row.revision);
      return revision !== undefined && revision.checksum !== row.checksum;
    }).map((row) => row.revision),
  };
};

/** @throws MigrationError MIGRATION_UNKNOWN / MIGRATION_EDITED naming the revisions. */
export const assertLedgerMatchesCode = (status: MigrationStatus): void => {
  if (status.unknown.length > 0) {
    throw new MigrationError(
      'MIGRATION_UNKNOWN',
      `the database has applied revisions unknown to this code: ${status.unknown.join(', ')}`,
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

const indexOfTarget = (chain: RevisionChain, to: string): number => {
  if (to === BASE_REVISION) return -1;
  const index = chain.revisions.findIndex((r) => r.id === to);
  if (index < 0) throw new MigrationError('MIGRATION_TARGET_UNKNOWN', `revision ${to} is not in the chain`, { revision: to });
  return index;
};

const runRevisionStep = async (
  client: pg.Client,
  revision: Revision,
  direction: 'up' | 'down',
): Promise<number> => {
  const started = performance.now();
  await client.query('BEGIN');
  try {
    await client.query(direction === 'up' ? revision.up : revision.down);
    const durationMs = Math.round(performance.now() - started);
    if (direction === 'up') await insertLedgerRow(client, revision.id, revision.checksum, durationMs);
    else await deleteLedgerRow(client, revision.id);
    await client.query('COMMIT');
    return durationMs;
  } catch (cause) {
    await client.query('ROLLBACK').catch(() => {});
    const message = cause instanceof Error ? cause.message : String(cause);
    throw new MigrationError('MIGRATION_FAILED', `revision ${revision.id} ${direction} failed and was rolled back: ${message}`, {
      revision: revision.id,
      cause,
    });
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

export type Migrator = {
  chain(): Promise<RevisionChain>;
  status(): Promise<MigrationStatus>;
  up(options?: { to?: string }): Promise<{ applied: string[] }>;
  down(options: { to: string }): Promise<{ reverted: string[] }>;
  verify(): Promise<{ passed: boolean; checks: VerificationCheck[] }>;
};

/** The migration runner behind `npm run migrate` and the worker's migration-verify checks. */
export const createMigrator = (options: MigratorOptions): Migrator => {
  const log = options.log ?? (() => {});
  const lockTimeoutMs = options.lockTimeoutMs ?? 120_000;
  let chainPromise: Promise<RevisionChain> | undefined;
  const chain = () => {
    chainPromise ??= loadRevisionChain(options.migrationsDir);
    return chainPromise;
  };

  const status = async (): Promise<MigrationStatus> => {
    const revisions = await chain();
    return withClient(options, async (client) => computeStatus(revisions, await readLedger(client)));
  };

  const up = async ({ to }: { to?: string } = {}): Promise<{ applied: string[] }> => {
    const revisions = await chain();
    const targetIndex = to === undefined ? revisions.revisions.length - 1 : indexOfTarget(revisions, to);
    return withClient(options, (client) =>
      withLock(client, lockTimeoutMs, async () => {
        await ensureLedger(client);
        const current = computeStatus(revisions, await readLedger(client));
        assertLedgerMatchesCode(current);
        const pending = new Set(current.pending);
        const applied: string[] = [];
        for (const revision of revisions.revisions.slice(0, targetIndex + 1)) {
          if (!pending.has(revision.id)) continue;
          const ms = await runRevisionStep(client, revision, 'up');
          log(`applied ${revision.id} (${ms} ms)`);
          applied.push(revision.id);
        }
        return { applied };
      }),
    );
  };

  const down = async ({ to }: { to: string }): Promise<{ reverted: string[] }> => {
    const revisions = await chain();
    const targetIndex = indexOfTarget(revisions, to);
    return withClient(options, (client) =>
      withLock(client, lockTimeoutMs, async () => {
        await ensureLedger(client);
        const current = computeStatus(revisions, await readLedger(client));
        assertLedgerMatchesCode(current);
        const appliedIds = new Set(current.applied.map((row) => row.revision));
        const reverted: string[] = [];
        for (const revision of revisions.revisions.slice(targetIndex + 1).reverse()) {
          if (!appliedIds.has(revision.id)) continue;
          const ms = await runRevisionStep(client, revision, 'down');
          log(`reverted ${revision.id} (${ms} ms)`);
          reverted.push(revision.id);
        }
        return { reverted };
      }),
    );
  };

  const verify = async (): Promise<{ passed: boolean; checks: VerificationCheck[] }> => {
    const revisions = await chain();
    return withClient(options, async (client) => {
      const current = computeStatus(revisions, await readLedger(client));
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
        {
          name: 'no unknown revisions in the ledger',
          status: current.unknown.length === 0 ? 'passed' : 'failed',
          detail: current.unknown.length === 0 ? 'ledger matches the code' : `unknown: ${current.unknown.join(', ')}`,
        },
      ];
      const appliedIds = new Set(current.applied.map((row) => row.revision));
      for (const revision of revisions.revisions) {
        if (appliedIds.has(revision.id)) checks.push(...(await runVerifyScript(client, revision)));
      }
      return { passed: checks.every((check) => check.status === 'passed'), checks };
    });
  };

  return { chain, status, up, down, verify };
};
