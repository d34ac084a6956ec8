/**
 * Entrypoint of `npm run migrate -- up|down|status|verify|stamp|repair` and of the deploy-time migration (`node
 * apps/cli/dist/migrate.js up`). Reads the environment once: the shared config (DATABASE_URL, AUDIT_HMAC_KEYS) and
 * the migrate variables of migrateOptions.ts.
 */
import { ConfigError, loadConfigOrExit } from '@valhalla/core';
import { runMigrateCommand } from '@valhalla/core/migrator';
import { migrateOptionsFromEnv } from './migrateOptions.js';

const config = loadConfigOrExit(process.env, 'migrate');
let options;
try {
  options = migrateOptionsFromEnv(process.env, config);
} catch (error) {
  if (!(error instanceof ConfigError)) throw error;
  process.stderr.write(`migrate: ${error.message}\n`);
  process.exit(78);
}

const code = await runMigrateCommand(process.argv.slice(2), options, {
  out: (line) => process.stdout.write(`${line}\n`),
  err: (line) => process.stderr.write(`${line}\n`),
});
process.exitCode = code;
