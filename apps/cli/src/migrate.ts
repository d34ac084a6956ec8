/**
 * Entrypoint of `npm run migrate -- up|down|status|verify|stamp|repair` and of the deploy-time migration (`node
 * apps/cli/dist/migrate.js up`). Reads the environment once: the Config (DATABASE_URL, AUDIT_HMAC_KEYS,
 * MIGRATIONS_DIR) and the env module's migrate section (MIGRATION_LOCK_TIMEOUT_MS, MIGRATION_ACTOR, ...).
 *
 * Without DATABASE_URL it uses the database of a running `npm run dev` and says so, and otherwise refuses: silently
 * falling back to a local default once reported (and would have migrated) a different database than the one in use.
 * It always says which database it touches (host, port, database, user; never the password), on stderr so that
 * `--json` output stays parseable.
 */
import { loadConfigOrExit } from '@valhalla/core';
import { devVariables, exitOnConfigError, migrateVariables, parseVariables, processEnvironment, sharedVariables } from '@valhalla/core/env';
import { describeDatabase } from './describeDatabase.js';
import { devDirFrom, readDevSession } from './dev/devSession.js';
import { asksMigrateHelp, unknownMigrateFlag } from './migrateFlags.js';
import { migrateCommandOptions } from './migrateCommandOptions.js';
import { MIGRATE_USAGE, runMigrateCommand } from './runMigrateCommand.js';

if (asksMigrateHelp(process.argv.slice(2))) {
  process.stdout.write(`${MIGRATE_USAGE}\n`);
  process.exit(0);
}
// The same flag check as `npx valhalla migrate`, before anything connects (a usage error exits 64, EX_USAGE).
const flagProblem = unknownMigrateFlag(process.argv.slice(2));
if (flagProblem !== undefined) {
  process.stderr.write(`${flagProblem}\n${MIGRATE_USAGE}\n`);
  process.exit(64);
}

const environment = processEnvironment();
const { DATABASE_URL, VALHALLA_DEV_DIR } = exitOnConfigError('migrate', () =>
  parseVariables(environment, { DATABASE_URL: sharedVariables.DATABASE_URL, VALHALLA_DEV_DIR: devVariables.VALHALLA_DEV_DIR }),
);
const settings = exitOnConfigError('migrate', () => parseVariables(environment, migrateVariables));
let env = environment;
let source = settings.VALHALLA_DATABASE_SOURCE ?? 'DATABASE_URL';
if (DATABASE_URL === undefined) {
  const devDir = devDirFrom(VALHALLA_DEV_DIR);
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
  env = { ...environment, DATABASE_URL: session.databaseUrl };
  source = `the npm run dev database (${devDir}/session.json)`;
}

const config = loadConfigOrExit(env, 'migrate');
process.stderr.write(`migrate: database ${describeDatabase(config.databaseUrl)} (from ${source})\n`);
const code = await runMigrateCommand(process.argv.slice(2), migrateCommandOptions(config, settings), {
  out: (line) => process.stdout.write(`${line}\n`),
  err: (line) => process.stderr.write(`${line}\n`),
});
process.exitCode = code;
