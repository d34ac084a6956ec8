import {
  AppError,
  createAuditKeyring,
  createDatabasePool,
  DEVELOPMENT_AUDIT_KEY,
  MigrationError,
  withAuditChainChecks,
  type AuditKeyring,
  type DatabasePool,
} from '@valhalla/core';
import { BASE_REVISION, compatibleAheadNote, createMigrator, type Migrator } from '@valhalla/core/migrator';

export type MigrateCommandIo = { out: (line: string) => void; err: (line: string) => void };

export type MigrateCommandOptions = {
  databaseUrl: string;
  migrationsDir: string;
  /** Advisory lock wait (MIGRATION_LOCK_TIMEOUT_MS). */
  lockTimeoutMs?: number;
  /** Each revision's PostgreSQL lock_timeout (MIGRATION_REVISION_LOCK_TIMEOUT_MS). */
  revisionLockTimeoutMs?: number;
  /** Who runs stamp and repair (MIGRATION_ACTOR, else the OS user). */
  actor?: string;
  /** Where `down --export-and-drop` writes (default ./migration-exports). */
  exportDir?: string;
  /** AUDIT_HMAC_KEYS: verify checks the chain with it; stamp and repair sign their audit events with it. */
  auditKeyring?: AuditKeyring;
};

export const MIGRATE_USAGE = `usage: migrate <command> [options]
  up [--to REV]                 apply pending revisions up to head (or REV); adopts an Alembic-migrated database
  down --to REV [--export-and-drop]
                                revert the revisions above REV (REV may be "${BASE_REVISION}" to revert all); refused when
                                it would drop tables holding rows, unless --export-and-drop writes them to a file first
  status [--json]               applied (with origin), pending, unknown and edited revisions; non-zero on edited or breaking unknown
  verify [--json]               run every applied revision's verify script and the schema checks; non-zero on failure
  stamp REV --reason R          record REV and the revisions before it as applied without running them (audited)
  repair --reason R             accept the current files of edited applied revisions (audited)`;

const option = (args: readonly string[], name: string): string | undefined => {
  const index = args.indexOf(name);
  if (index >= 0) return args[index + 1];
  const inline = args.find((arg) => arg.startsWith(`${name}=`));
  return inline?.slice(name.length + 1);
};

const REASON_MAX = 500;
/** EX_USAGE from sysexits.h, the same code the valhalla CLI uses for usage errors. */
const MIGRATE_USAGE_EXIT = 64;

/**
 * The `migrate` command line, separated from its entrypoint so tests can drive it. Returns the exit code:
 * 0 done, 1 failed (the message names the revision), 64 usage error (EX_USAGE, as the valhalla CLI: its 2 means
 * "rejected by the state rules").
 */
export const runMigrateCommand = async (args: readonly string[], options: MigrateCommandOptions, io: MigrateCommandIo): Promise<number> => {
  const [command, ...rest] = args;
  const json = rest.includes('--json');
  // Opened on first use, so a usage error answers without a database.
  let pool: DatabasePool | undefined;
  const database = async (): Promise<DatabasePool> => {
    pool ??= await createDatabasePool({
      connectionUri: options.databaseUrl,
      maxPoolSize: 2,
      applicationName: 'valhalla-migrate',
      connectionTimeoutMs: 10_000,
      // A revision may run long, and the wait for another runner's lock has its own bound (lockTimeoutMs); the export
      // of `down --export-and-drop` keeps its snapshot open while it writes to disk.
      statementTimeoutMs: 'DISABLE_TIMEOUT',
      idleInTransactionTimeoutMs: 'DISABLE_TIMEOUT',
    });
    return pool;
  };
  const migrator = async (): Promise<Migrator> => createMigrator({ ...options, db: await database(), log: (line) => io.out(line) });
  const usage = (message: string) => {
    io.err(`${message}\n${MIGRATE_USAGE}`);
    return MIGRATE_USAGE_EXIT;
  };
  const reasonOf = (): string | undefined => {
    const reason = option(rest, '--reason')?.trim();
    return reason === undefined || reason.length === 0 || reason.length > REASON_MAX ? undefined : reason;
  };
  const actor = options.actor ?? 'unknown';
  // Tests drive the command without a keyring: the development key signs, as in withAuditChainChecks.
  const keyringOf = () => options.auditKeyring ?? createAuditKeyring([DEVELOPMENT_AUDIT_KEY]);
  try {
    switch (command) {
      case 'up': {
        const to = option(rest, '--to');
        const { applied, aheadCompatible } = await (await migrator()).up(to === undefined ? {} : { to });
        if (aheadCompatible.length > 0) io.out(`nothing to apply: ${compatibleAheadNote(aheadCompatible)}`);
        else io.out(applied.length === 0 ? 'nothing to apply: database is at the target revision' : `applied ${applied.length} revision(s)`);
        return 0;
      }
      case 'down': {
        const to = option(rest, '--to');
        if (to === undefined) return usage('down needs --to REV');
        const { reverted, kept, exportPath } = await (await migrator()).down({
          to,
          exportAndDropDir: rest.includes('--export-and-drop') ? (options.exportDir ?? 'migration-exports') : undefined,
        });
        if (exportPath !== undefined) io.out(`rows of the dropped tables were exported to ${exportPath}`);
        if (kept.length > 0) io.out(`adopted tables kept: ${kept.join(', ')}`);
        io.out(reverted.length === 0 ? `nothing to revert above ${to}` : `reverted ${reverted.length} revision(s)`);
        return 0;
      }
      case 'stamp': {
        const to = rest[0];
        if (to === undefined || to.startsWith('--')) return usage('stamp needs a revision: stamp REV --reason R');
        const reason = reasonOf();
        if (reason === undefined) return usage(`stamp needs --reason R (1-${REASON_MAX} characters): it is recorded in the audit log`);
        const { stamped, audited } = await (await migrator()).stamp({ to, actor, reason, keyring: keyringOf() });
        io.out(
          audited
            ? `stamped ${stamped.length} revision(s); recorded in the audit log as ${actor}`
            : `stamped ${stamped.length} revision(s) by ${actor}; recorded in the migration ledger only (origin stamp): the audit log does not exist before its revision`,
        );
        return 0;
      }
      case 'repair': {
        const reason = reasonOf();
        if (reason === undefined) return usage(`repair needs --reason R (1-${REASON_MAX} characters): it is recorded in the audit log`);
        const { repaired } = await (await migrator()).repair({ actor, reason, keyring: keyringOf() });
        io.out(`repaired ${repaired.length} revision(s); recorded in the audit log as ${actor}`);
        return 0;
      }
      case 'status': {
        const status = await (await migrator()).status();
        if (json) io.out(JSON.stringify(status, null, 2));
        else {
          io.out(`head: ${status.head}`);
          for (const row of status.applied) {
            const flag = status.edited.includes(row.revision)
              ? ' EDITED'
              : status.unknownBreaking.includes(row.revision)
                ? ' UNKNOWN (breaking)'
                : status.unknownCompatible.includes(row.revision)
                  ? ' unknown to this code (compatible)'
                  : '';
            io.out(`applied  ${row.revision}  ${row.appliedAt}  origin=${row.origin}${row.breaking ? '  breaking' : ''}${flag}`);
          }
          for (const id of status.pending) io.out(`pending  ${id}`);
          if (status.unknownCompatible.length > 0) io.out(`note: ${compatibleAheadNote(status.unknownCompatible)}`);
        }
        const problems = [
          ...status.unknownBreaking.map((id) => `breaking revision unknown to this code: ${id}`),
          ...status.edited.map((id) => `edited revision (checksum mismatch): ${id}`),
        ];
        for (const problem of problems) io.err(problem);
        return problems.length === 0 ? 0 : 1;
      }
      case 'verify': {
        const result = await withAuditChainChecks(await (await migrator()).verify(), await database(), options.auditKeyring);
        if (json) io.out(JSON.stringify(result, null, 2));
        else for (const check of result.checks) io.out(`${check.status.padEnd(6)}  ${check.name}: ${check.detail}`);
        if (!result.passed) io.err('verification failed');
        return result.passed ? 0 : 1;
      }
      default:
        return usage(command === undefined ? 'no command given' : `unknown command ${command}`);
    }
  } catch (error) {
    if (error instanceof MigrationError || error instanceof AppError) {
      io.err(`${error.code}: ${error.message}`);
      return 1;
    }
    io.err(`migrate failed: ${error instanceof Error ? error.message : String(error)}`);
    return 1;
  } finally {
    await pool?.end();
  }
};
