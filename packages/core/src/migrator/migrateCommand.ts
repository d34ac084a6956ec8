import { AppError, MigrationError } from '../errors/index.js';
import type { AuditKeyring } from '../state/audit/auditKeyring.js';
import { withAuditChainChecks } from '../state/audit/runAuditChainChecks.js';
import { BASE_REVISION, createMigrator, type Migrator } from './runner.js';

export type MigrateCommandIo = { out: (line: string) => void; err: (line: string) => void };

export const MIGRATE_USAGE = `usage: migrate <command> [options]
  up [--to REV]      apply pending revisions up to head (or REV)
  down --to REV      revert the revisions above REV (REV may be "${BASE_REVISION}" to revert all)
  status [--json]    applied, pending, unknown and edited revisions; non-zero on unknown or edited
  verify [--json]    run every applied revision's verify script and the schema checks; non-zero on failure`;

const option = (args: readonly string[], name: string): string | undefined => {
  const index = args.indexOf(name);
  if (index >= 0) return args[index + 1];
  const inline = args.find((arg) => arg.startsWith(`${name}=`));
  return inline?.slice(name.length + 1);
};

/**
 * The `migrate` command line, separated from its entrypoint so tests can drive it. Returns the exit code:
 * 0 done, 1 failed (the message names the revision), 2 usage error.
 */
export const runMigrateCommand = async (
  args: readonly string[],
  options: { databaseUrl: string; migrationsDir: string; lockTimeoutMs?: number; auditKeyring?: AuditKeyring },
  io: MigrateCommandIo,
): Promise<number> => {
  const [command, ...rest] = args;
  const json = rest.includes('--json');
  const migrator: Migrator = createMigrator({ ...options, log: (line) => io.out(line) });
  try {
    switch (command) {
      case 'up': {
        const to = option(rest, '--to');
        const { applied } = await migrator.up(to === undefined ? {} : { to });
        io.out(applied.length === 0 ? 'nothing to apply: database is at the target revision' : `applied ${applied.length} revision(s)`);
        return 0;
      }
      case 'down': {
        const to = option(rest, '--to');
        if (to === undefined) {
          io.err(`down needs --to REV\n${MIGRATE_USAGE}`);
          return 2;
        }
        const { reverted } = await migrator.down({ to });
        io.out(reverted.length === 0 ? `nothing to revert above ${to}` : `reverted ${reverted.length} revision(s)`);
        return 0;
      }
      case 'status': {
        const status = await migrator.status();
        if (json) io.out(JSON.stringify(status, null, 2));
        else {
          io.out(`head: ${status.head}`);
          for (const row of status.applied) {
            const flag = status.edited.includes(row.revision) ? ' EDITED' : status.unknown.includes(row.revision) ? ' UNKNOWN' : '';
            io.out(`applied  ${row.revision}  ${row.appliedAt}${flag}`);
          }
          for (const id of status.pending) io.out(`pending  ${id}`);
        }
        const problems = [
          ...status.unknown.map((id) => `unknown revision in the ledger: ${id}`),
          ...status.edited.map((id) => `edited revision (checksum mismatch): ${id}`),
        ];
        for (const problem of problems) io.err(problem);
        return problems.length === 0 ? 0 : 1;
      }
      case 'verify': {
        const result = await withAuditChainChecks(await migrator.verify(), options);
        if (json) io.out(JSON.stringify(result, null, 2));
        else for (const check of result.checks) io.out(`${check.status.padEnd(6)}  ${check.name}: ${check.detail}`);
        if (!result.passed) io.err('verification failed');
        return result.passed ? 0 : 1;
      }
      default:
        io.err(command === undefined ? MIGRATE_USAGE : `unknown command ${command}\n${MIGRATE_USAGE}`);
        return 2;
    }
  } catch (error) {
    if (error instanceof MigrationError || error instanceof AppError) {
      io.err(`${error.code}: ${error.message}`);
      return 1;
    }
    io.err(`migrate failed: ${error instanceof Error ? error.message : String(error)}`);
    return 1;
  }
};
