/**
 * Entrypoint of the operator CLI (`npx valhalla …`). Reads the environment once: VALHALLA_API_URL and
 * VALHALLA_TOKEN; when they are unset and `npm run dev` is running in this project, its API and token (from its
 * session file); for `migrate` the variables of the migrate command (DATABASE_URL, else the dev database; the env
 * module's migrate section).
 */
import { readFileSync } from 'node:fs';
import { cliVariables, devVariables, exitOnConfigError, parseVariables, processEnvironment } from '@valhalla/core/env/cli';
import { describeDatabase } from './describeDatabase.js';
import { devDirFrom, readDevSession } from './dev/devSession.js';
import { runValhallaCli } from './valhalla/runValhallaCli.js';

const io = { out: (text: string) => process.stdout.write(`${text}\n`), err: (text: string) => process.stderr.write(`${text}\n`) };
const { version } = JSON.parse(readFileSync(new URL('../package.json', import.meta.url), 'utf8')) as { version: string };

/**
 * A token as GOVERNANCE_TOKENS and the dev token file write it (`actor:token`) is taken as its token part, so the
 * file's content works as VALHALLA_TOKEN as it is. Tokens are at least 24 characters; actors are short names.
 */
const tokenPart = (value: string | undefined): string | undefined => {
  const match = /^[A-Za-z0-9_.@-]{1,100}:(\S{24,})$/.exec(value?.trim() ?? '');
  return match ? match[1] : value?.trim();
};

const environment = processEnvironment();
const settings = exitOnConfigError('valhalla', () => parseVariables(environment, { ...devVariables, ...cliVariables }));
const session = await readDevSession(devDirFrom(settings.VALHALLA_DEV_DIR));
const useSession = session !== undefined && settings.VALHALLA_API_URL === undefined;
const apiUrl = useSession ? session.apiUrl : (settings.VALHALLA_API_URL ?? 'http://127.0.0.1:3000');
const token = tokenPart(settings.VALHALLA_TOKEN ?? (useSession ? session.token : undefined));

process.exitCode = await runValhallaCli(
  process.argv.slice(2),
  {
    apiUrl,
    token,
    version: `valhalla ${version}`,
    ...(useSession ? { source: 'the running npm run dev' } : {}),
    migrate: async (args) => {
      // Loaded only for migrate: the API commands need none of the database and queue libraries, and start faster.
      const [{ loadConfigOrExit }, { migrateVariables, sharedVariables }, { runMigrateCommand }, { migrateCommandOptions }] = await Promise.all([
        import('@valhalla/core'),
        import('@valhalla/core/env'),
        import('./runMigrateCommand.js'),
        import('./migrateCommandOptions.js'),
      ]);
      const { DATABASE_URL } = exitOnConfigError('migrate', () => parseVariables(environment, { DATABASE_URL: sharedVariables.DATABASE_URL }));
      let env = environment;
      let from = 'DATABASE_URL';
      if (DATABASE_URL === undefined) {
        if (session === undefined) {
          io.err('migrate: DATABASE_URL is not set, and no `npm run dev` is running in this project to take its database from.');
          return 78;
        }
        env = { ...environment, DATABASE_URL: session.databaseUrl };
        from = 'the npm run dev database';
      }
      const config = loadConfigOrExit(env, 'migrate');
      io.err(`migrate: database ${describeDatabase(config.databaseUrl)} (from ${from})`);
      // A ConfigError (a bad MIGRATION_* variable) reaches the CLI's error handling, which names it.
      return runMigrateCommand(args, migrateCommandOptions(config, parseVariables(environment, migrateVariables)), io);
    },
  },
  io,
);
