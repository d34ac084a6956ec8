import type { DatabasePoolConnection } from 'slonik';
import { MigrationError } from '../errors/index.js';
import type { AuditKeyring } from '../state/audit/auditKeyring.js';
import type { VerificationCheck } from '@valhalla/contract';
import { adoptAlembic } from './adoptAlembic.js';
import { appendAuditEvent } from '../state/audit/appendAuditEvent.js';
import { auditLogExists } from './auditLogExists.js';
import { exportTables } from './exportTables.js';
import { ensureLedger, insertLedgerRow, LEDGER_ORIGINS, readLedger, repairLedgerChecksum } from './ledger.js';
import {
  assertLedgerMatchesCode,
  assertSchemaCompatible,
  compatibleAheadNote,
  computeStatus,
  type MigrationStatus,
} from './migrationStatus.js';
import { planDowngrade } from './planDowngrade.js';
import { applyRevision, revertRevision, runVerifyScript } from './revisionSteps.js';
import { loadRevisionChain, type RevisionChain } from './revisions.js';
import { inOneSession, type MigrationDatabase } from './inOneSession.js';
import { withMigrationLock } from './migrationLock.js';

export { assertLedgerMatchesCode, assertSchemaCompatible, compatibleAheadNote, type MigrationStatus } from './migrationStatus.js';

export type MigratorOptions = {
  /**
   * The database, handed in by the caller, who also closes it: a pool (each locked operation takes one of its
   * connections for as long as it holds the migration lock) or one connection. Its statement_timeout bounds every
   * statement, the wait for the lock included: the migrate command's pool has none.
   */
  db: MigrationDatabase;
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


/** The target of `down --to base`: revert every revision, the root included. */
export const BASE_REVISION = 'base';
const DEFAULT_REVISION_LOCK_TIMEOUT_MS = 5_000;

const indexOfTarget = (chain: RevisionChain, to: string): number => {
  if (to === BASE_REVISION) return -1;
  const index = chain.revisions.findIndex((r) => r.id === to);
  if (index < 0) throw new MigrationError('MIGRATION_TARGET_UNKNOWN', `revision ${to} is not in the chain`, { revision: to });
  return index;
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
  stamp(options: { to: string } & OperatorIntent): Promise<{ stamped: string[]; audited: boolean }>;
  /** Accepts the current files of edited applied revisions (new checksums), with an audit event. */
  repair(options: OperatorIntent): Promise<{ repaired: { revision: string; from: string; to: string }[] }>;
  verify(): Promise<{ passed: boolean; checks: VerificationCheck[] }>;
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

  const status = async (): Promise<MigrationStatus> => computeStatus(await chain(), await readLedger(options.db));

  const locked = <T>(fn: (connection: DatabasePoolConnection, revisions: RevisionChain) => Promise<T>): Promise<T> =>
    chain().then((revisions) =>
      withMigrationLock(options.db, lockTimeoutMs, async (connection) => {
        await ensureLedger(connection);
        return fn(connection, revisions);
      }),
    );

  const up = async ({ to }: { to?: string } = {}) => {
    const target = to === undefined ? undefined : indexOfTarget(await chain(), to);
    return locked(async (connection, revisions) => {
      const adopted = await adoptAlembic(connection, revisions, await readLedger(connection));
      if (adopted.length > 0) log(`adopted ${adopted.join(', ')} from alembic_version (applied by the Python service)`);
      const current = computeStatus(revisions, await readLedger(connection));
      assertLedgerMatchesCode(current);
      if (current.unknownCompatible.length > 0) log(compatibleAheadNote(current.unknownCompatible));
      const pending = new Set(current.pending);
      const applied: string[] = [];
      for (const revision of revisions.revisions.slice(0, (target ?? revisions.revisions.length - 1) + 1)) {
        if (!pending.has(revision.id)) continue;
        const ms = await applyRevision(connection, revision, revisionLockTimeoutMs);
        log(`applied ${revision.id} (${ms} ms)`);
        applied.push(revision.id);
      }
      return { applied, adopted, aheadCompatible: current.unknownCompatible };
    });
  };

  const down = async ({ to, exportAndDropDir }: DownOptions): Promise<DownResult> => {
    const targetIndex = indexOfTarget(await chain(), to);
    return locked(async (connection, revisions) => {
      const ledger = await readLedger(connection);
      const current = computeStatus(revisions, ledger);
      assertLedgerMatchesCode(current);
      if (current.unknown.length > 0) {
        throw new MigrationError('MIGRATION_UNKNOWN', `revert the revisions this code does not know (${current.unknown.join(', ')}) with the code that knows them first`, {
          revision: current.unknown[0] as string,
        });
      }
      const byId = new Map(ledger.map((row) => [row.revision, row]));
      const toRevert = revisions.revisions.slice(targetIndex + 1).reverse().filter((revision) => byId.has(revision.id));
      const plan = await planDowngrade(connection, toRevert, byId, revisionLockTimeoutMs);
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
        exportPath = await exportTables(connection, holding.map(([table]) => table), exportAndDropDir, `down-to-${to}`);
        log(`exported the rows of ${named} to ${exportPath}`);
      }
      const reverted: string[] = [];
      const kept: string[] = [];
      for (const step of plan.steps) {
        const ms = await revertRevision(connection, step, plan.rowCounts, revisionLockTimeoutMs);
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
    const { stamped, audited } = await locked(async (connection, revisions) => {
      const current = computeStatus(revisions, await readLedger(connection));
      assertSchemaCompatible(current);
      const pending = new Set(current.pending);
      const toStamp = revisions.revisions.slice(0, targetIndex + 1).filter((revision) => pending.has(revision.id));
      if (toStamp.length === 0) {
        throw new MigrationError('MIGRATION_NOTHING_TO_DO', `${to} and every revision before it are already in the ledger: nothing to stamp`, { revision: to });
      }
      const ids = toStamp.map((revision) => revision.id);
      // The ledger rows and their audit event commit together, or neither does.
      const withEvent = await connection.transaction(async (tx) => {
        for (const revision of toStamp) {
          await insertLedgerRow(tx, {
            revision: revision.id,
            checksum: revision.checksum,
            durationMs: 0,
            breaking: revision.breaking,
            origin: LEDGER_ORIGINS.stamp,
            createdTables: [],
          });
        }
        // Stamping the revisions before the audit log exists (a schema made by hand): the ledger rows, whose origin
        // says "stamp", are then the only record; refusing would leave such a schema impossible to adopt.
        if (!(await auditLogExists(tx))) return false;
        await appendAuditEvent(tx, keyring, { key: null, action: 'migration.stamp', actor, reason, requestId: null, details: { stamped: ids, to } });
        return true;
      }, 0);
      return { stamped: ids, audited: withEvent };
    });
    log(`stamped ${stamped.join(', ')} as applied (not run), by ${actor}${audited ? '' : '; not audited: the audit log does not exist yet'}`);
    return { stamped, audited };
  };

  const repair = async ({ actor, reason, keyring }: OperatorIntent) => {
    const repaired = await locked(async (connection, revisions) => {
      const ledger = await readLedger(connection);
      const current = computeStatus(revisions, ledger);
      assertSchemaCompatible(current);
      const byId = new Map(revisions.revisions.map((r) => [r.id, r]));
      const edited = current.edited.map((id) => ({
        revision: id,
        from: ledger.find((row) => row.revision === id)?.checksum ?? '',
        to: byId.get(id)?.checksum ?? '',
      }));
      if (edited.length === 0) throw new MigrationError('MIGRATION_NOTHING_TO_DO', 'no applied revision is edited: nothing to repair');
      await connection.transaction(async (tx) => {
        for (const row of edited) {
          if (!(await repairLedgerChecksum(tx, row))) {
            throw new MigrationError('MIGRATION_FAILED', `revision ${row.revision} changed in the ledger meanwhile; nothing was repaired, run repair again`, {
              revision: row.revision,
            });
          }
        }
        await appendAuditEvent(tx, keyring, { key: null, action: 'migration.repair', actor, reason, requestId: null, details: { repaired: edited } });
      }, 0);
      return edited;
    });
    log(`repaired ${repaired.map((row) => row.revision).join(', ')}: their current files are accepted, by ${actor}`);
    return { repaired };
  };

  const verify = async (): Promise<{ passed: boolean; checks: VerificationCheck[] }> => {
    const revisions = await chain();
    return inOneSession(options.db, async (connection) => {
      const current = computeStatus(revisions, await readLedger(connection));
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
        if (appliedIds.has(revision.id)) checks.push(...(await runVerifyScript(connection, revision)));
      }
      return { passed: checks.every((check) => check.status === 'passed'), checks };
    });
  };

  return { chain, status, up, down, stamp, repair, verify };
};
