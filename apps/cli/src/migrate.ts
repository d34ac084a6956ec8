/**
 * Entrypoint of `npm run migrate -- up|down|status|verify` and of the deploy-time migration (`node
 * apps/cli/dist/migrate.js up`). Reads the environment once: DATABASE_URL (and MIGRATIONS_DIR to point at another
 * folder of revisions, used by tests).
 *
 * Without DATABASE_URL it uses the database of a running `npm run dev` and says so, and otherwise refuses: silently
 * falling back to a local default once reported (and would have migrated) a different database than the one in use.
 * It always says which database it touches (host, port, database, user; never the password), on stderr so that
 * `--json` output stays parseable.
 */
import { defaultMigrationsDir, runMigrateCommand } from '@valhalla/core/migrator';
import { loadConfigOrExit } from '@valhalla/core';
import { describeDatabase } from './describeDatabase.js';
import { devDirFrom, readDevSession } from './dev/devSession.js';

const env: Record<string, string | undefined> = { ...process.env };
let source = 'DATABASE_URL';
if (env.DATABASE_URL === undefined || env.DATABASE_URL === '') {
  const devDir = devDirFrom(env);
  const session = await readDevSession(devDir);
  if (session === undefined) {
    process.stderr.write(
      [
        'migrate: DATABASE_URL is not set, and no `npm run dev` is running in this project to take its database from.',
        '  Set it:   DATABASE_URL=postgresql://USER:PASSWORD@HOST:5432/DATABASE npm run migrate -- status',
        '  or start `npm run dev` in another terminal and run this again.',
        '',
      ].join('\n'),
    );
    process.exit(78);
  }
  env.DATABASE_URL = session.databaseUrl;
  source = `the npm run dev database (${devDir}/session.json)`;
}

const config = loadConfigOrExit(env, 'migrate');
process.stderr.write(`migrate: database ${describeDatabase(config.databaseUrl)} (from ${source})\n`);
const migrationsDir = env.MIGRATIONS_DIR ?? defaultMigrationsDir();
const rawLockTimeout = env.MIGRATION_LOCK_TIMEOUT_MS;
const lockTimeoutMs = rawLockTimeout === undefined || rawLockTimeout === '' ? undefined : Number(rawLockTimeout);
if (lockTimeoutMs !== undefined && (!Number.isInteger(lockTimeoutMs) || lockTimeoutMs < 1)) {
  process.stderr.write('migrate: MIGRATION_LOCK_TIMEOUT_MS must be a positive whole number of milliseconds\n');
  process.exit(78);
}

const code = await runMigrateCommand(
  process.argv.slice(2),
  { databaseUrl: config.databaseUrl, migrationsDir, auditKeyring: config.auditKeyring, ...(lockTimeoutMs === undefined ? {} : { lockTimeoutMs }) },
  { out: (line) => process.stdout.write(`${line}\n`), err: (line) => process.stderr.write(`${line}\n`) },
);
process.exitCode = code;
