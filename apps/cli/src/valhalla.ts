/**
 * Entrypoint of the operator CLI (`npx valhalla …`). Reads the environment once: VALHALLA_API_URL (default
 * http://127.0.0.1:3000), VALHALLA_TOKEN, and for `migrate` the variables of the migrate command (DATABASE_URL,
 * MIGRATIONS_DIR).
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
      const [{ loadConfigOrExit }, { defaultMigrationsDir, runMigrateCommand }] = await Promise.all([
        import('@valhalla/core'),
        import('@valhalla/core/migrator'),
      ]);
      const config = loadConfigOrExit(process.env, 'migrate');
      return runMigrateCommand(args, { databaseUrl: config.databaseUrl, migrationsDir: process.env.MIGRATIONS_DIR ?? defaultMigrationsDir(), auditKeyring: config.auditKeyring }, io);
    },
  },
  io,
);
