import type { DatabasePoolConnection } from 'slonik';
import { serverMessageOf, SQLSTATE, sqlstateOf } from '../db/sqlstate.js';
import { MigrationError } from '../errors/index.js';
import { inRolledBackTransaction } from './inRolledBackTransaction.js';
import type { LedgerRow } from './ledger.js';
import type { Revision } from './revisions.js';
import { runSqlFile } from './sqlFiles.js';
import { setLocalLockTimeout } from './setLocalLockTimeout.js';
import { countRows, listUserTables } from './userTables.js';

export type DowngradeStep = {
  revision: Revision;
  /** Tables its down drops that its up created (recorded at apply time): dropped, after the row check. */
  drops: string[];
  /** Tables its down would drop that existed before (adopted, or unknown): kept, whatever they hold. */
  kept: string[];
};

export type DowngradePlan = { steps: DowngradeStep[]; rowCounts: ReadonlyMap<string, number> };

const difference = (a: ReadonlySet<string>, b: ReadonlySet<string>) => [...a].filter((name) => !b.has(name)).sort();

/**
 * Learns which tables each down would drop by running the downs, in revert order, in one transaction that is rolled
 * back (no SQL parsing; a down that fails here fails before anything changed). Each dropped table is then either the
 * revision's own (created by its up) or adopted, and the revision's own are counted.
 * @throws MigrationError MIGRATION_FAILED naming the revision whose down failed; MIGRATION_BUSY on lock_timeout.
 */
export const planDowngrade = async (
  connection: DatabasePoolConnection,
  revisions: readonly Revision[],
  ledger: ReadonlyMap<string, LedgerRow>,
  lockTimeoutMs: number,
): Promise<DowngradePlan> => {
  const dropped = new Map<string, string[]>();
  let current: Revision | undefined;
  try {
    await inRolledBackTransaction(connection, async (tx) => {
      await setLocalLockTimeout(tx, lockTimeoutMs);
      for (const revision of revisions) {
        current = revision;
        const before = await listUserTables(tx);
        await runSqlFile(tx, revision.down);
        dropped.set(revision.id, difference(before, await listUserTables(tx)));
      }
    });
  } catch (cause) {
    throw revisionError(current?.id ?? '(none)', 'down (dry run)', cause, lockTimeoutMs);
  }
  const steps = revisions.map((revision) => {
    const created = new Set(ledger.get(revision.id)?.createdTables ?? []);
    const tables = dropped.get(revision.id) ?? [];
    return { revision, drops: tables.filter((t) => created.has(t)), kept: tables.filter((t) => !created.has(t)) };
  });
  const rowCounts = new Map<string, number>();
  for (const table of steps.flatMap((step) => step.drops)) rowCounts.set(table, await countRows(connection, table));
  return { steps, rowCounts };
};

/** The error of a revision's SQL: MIGRATION_BUSY when it waited past lock_timeout (retryable), else MIGRATION_FAILED. */
export const revisionError = (revision: string, what: string, cause: unknown, lockTimeoutMs: number): MigrationError => {
  if (sqlstateOf(cause) === SQLSTATE.lockNotAvailable) {
    return new MigrationError(
      'MIGRATION_BUSY',
      `revision ${revision} ${what} waited more than ${lockTimeoutMs} ms for a table lock (a busy table); nothing was changed, run it again later`,
      { revision, cause },
    );
  }
  if (cause instanceof MigrationError) return cause;
  return new MigrationError('MIGRATION_FAILED', `revision ${revision} ${what} failed and was rolled back: ${serverMessageOf(cause)}`, { revision, cause });
};
