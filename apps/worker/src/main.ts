#!/usr/bin/env node
/**
 * Entrypoint of the worker (`node apps/worker/dist/main.js`, what Render runs). Reads the environment once (shared
 * Config plus the worker-only variables of parseWorkerOptions.ts), wires the app, and owns the signals: the app
 * registers each resource's closing step with the lifecycle this file hands it, and a signal closes that lifecycle.
 */
import { ConfigError, createLifecycle, createLogger, exitAfterFlush, handleShutdownSignals, loadConfigOrExit } from '@valhalla/core';
import { createWorkerApp } from './assembly/createWorkerApp.js';
import { withFaultInjection } from './faultInjection.js';
import { parseWorkerOptions, type WorkerOptions } from './parseWorkerOptions.js';
import { createWorkerDependencies } from './workerDependencies.js';

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
const fault = workerOptions.fault;
for (const deprecation of config.deprecations) logger.warn(deprecation);
if (fault !== undefined) logger.warn({ fault: fault.description }, 'TEST-ONLY fault injection is enabled');

/** How long a worker started during a database outage keeps trying before it gives up (as the api). */
const DATABASE_STARTUP_DEADLINE_MS = 60_000;
const lifecycle = createLifecycle(logger);
// A signal during startup closes what exists so far; what startup creates afterwards is closed as it registers.
handleShutdownSignals({ lifecycle, logger, shutdownTimeoutMs: config.shutdownTimeoutMs, stoppedMessage: 'worker stopped' });

try {
  const dependencies = await createWorkerDependencies({
    config,
    lifecycle,
    migrationsDir: workerOptions.migrationsDir,
    connectRetry: {
      deadlineMs: DATABASE_STARTUP_DEADLINE_MS,
      onRetry: (err, attempt) => logger.warn({ err, attempt }, 'PostgreSQL is not reachable yet; retrying'),
    },
  });
  await createWorkerApp({
    config,
    logger,
    lifecycle,
    dependencies: fault === undefined ? dependencies : { ...dependencies, applyBatch: withFaultInjection(fault, dependencies.applyBatch) },
    tuning: workerOptions.tuning,
    verifyIntervalSeconds: workerOptions.verifyIntervalSeconds,
    driftAction: workerOptions.driftAction,
    verifyApiToken: workerOptions.verifyApiToken,
  });
} catch (err) {
  logger.fatal({ err }, `worker failed to start: ${err instanceof Error ? err.message : String(err)}`);
  await lifecycle.close();
  // A configuration the database refuses (APPROVALS_REQUIRED other than the api's) is a configuration error: 78.
  exitAfterFlush(logger, err instanceof ConfigError ? 78 : 1);
}
