/**
 * Entrypoint of the operator CLI (`npx valhalla …`). Reads the environment once: VALHALLA_API_URL (default
 * http://127.0.0.1:3000), VALHALLA_TOKEN, and for `migrate` the variables of the migrate command (DATABASE_URL,
 * MIGRATIONS_DIR, MIGRATION_ACTOR and the other variables of migrateOptions.ts).
 */
import { runValhallaCli } from './valhalla/runValhallaCli.js';

const io = { out: (text: string) => process.stdout.write(`${text}\n`), err: (text: string) => process.stderr.write(`${text}\n`) };

process.exitCode = await runValhallaCli(
  process.argv.slice(2),
  {
    apiUrl: process.env.VALHALLA_API_URL ?? 'http://127.0.0.1:3000',
    token: process.env.VALHALLA_TOKEN,
    migrate: async (args) => {
      // Loaded only for migrate: the API commands need none of the database and queue libraries, and start faster.
      const [{ loadConfigOrExit }, { runMigrateCommand }, { migrateOptionsFromEnv }] = await Promise.all([
        import('@valhalla/core'),
        import('@valhalla/core/migrator'),
        import('./migrateOptions.js'),
      ]);
      const config = loadConfigOrExit(process.env, 'migrate');
      // A ConfigError (a bad MIGRATION_* variable) reaches the CLI's error handling, which names it.
      return runMigrateCommand(args, migrateOptionsFromEnv(process.env, config), io);
    },
  },
  io,
);
