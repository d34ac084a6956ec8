#!/usr/bin/env node
/**
 * Entrypoint of the worker (`node apps/worker/dist/main.js`, what Render runs). Reads the environment once (shared
 * Config plus the worker-only variables of parseWorkerOptions.ts), wires the app, and owns the signals.
 */
import { ConfigError, createLogger, exitAfterFlush, loadConfigOrExit } from '@valhalla/core';
import { createWorkerApp, type WorkerApp } from './createWorkerApp.js';
import { parseWorkerOptions, type WorkerOptions } from './parseWorkerOptions.js';

const config = loadConfigOrExit(process.env, 'worker');
let workerOptions: WorkerOptions;
try {
  workerOptions = parseWorkerOptions(process.env);
} catch (error) {
  if (!(error instanceof ConfigError)) throw error;
  process.stderr.write(`worker: ${error.message}\n`);
  process.exit(78);
}

const logger = createLogger({
  name: 'worker',
  level: config.logLevel,
  pretty: config.nodeEnv === 'development' && process.stdout.isTTY === true,
});
if (workerOptions.fault !== undefined) logger.warn({ fault: workerOptions.fault.description }, 'TEST-ONLY fault injection is enabled');

/** After the drain deadline, each closing step is bounded (about 10 s in all); past this, something is wrong. */
const HARD_EXIT_GRACE_MS = 15_000;

let app: WorkerApp | undefined;
let stopping = false;

const shutdown = (signal: NodeJS.Signals) => {
  if (stopping) {
    logger.info({ signal }, 'shutdown already in progress');
    return;
  }
  stopping = true;
  logger.info({ signal }, 'shutdown requested');
  setTimeout(() => {
    logger.error('shutdown did not finish in time; exiting');
    process.exit(1);
  }, config.shutdownTimeoutMs + HARD_EXIT_GRACE_MS).unref();
  // During startup there is no app yet: the code after createWorkerApp closes it as soon as it exists.
  if (app !== undefined) void app.close().finally(() => exitAfterFlush(logger, 0));
};
process.on('SIGTERM', shutdown);
process.on('SIGINT', shutdown);

try {
  app = await createWorkerApp({
    config,
    logger,
    migrationsDir: workerOptions.migrationsDir,
    tuning: workerOptions.tuning,
    fault: workerOptions.fault,
    verifyIntervalSeconds: workerOptions.verifyIntervalSeconds,
    driftAction: workerOptions.driftAction,
    verifyApiToken: workerOptions.verifyApiToken,
  });
  // A signal that arrived during startup found no app to close; close the one that just started.
  if (stopping) void app.close().finally(() => exitAfterFlush(logger, 0));
} catch (err) {
  logger.fatal({ err }, `worker failed to start: ${err instanceof Error ? err.message : String(err)}`);
  exitAfterFlush(logger, 1);
}
