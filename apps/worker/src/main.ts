#!/usr/bin/env node
/**
 * Entrypoint of the worker (`node apps/worker/dist/main.js`, what Render runs). Reads the environment once (the Config
 * of the env module's shared, api and worker sections), wires the app, and owns the signals: the app
 * registers each resource's closing step with the lifecycle this file hands it, and a signal closes that lifecycle.
 */
import { ConfigError, createLifecycle, createLogger, exitAfterFlush, handleShutdownSignals, loadConfigOrExit } from '@valhalla/core';
import { CONFIG_ERROR_EXIT_CODE, processEnvironment } from '@valhalla/core/env';
import { createWorkerApp } from './assembly/createWorkerApp.js';
import { createFaultInjection, withFaultInjection } from './faultInjection.js';
import { createWorkerDependencies } from './workerDependencies.js';

const config = loadConfigOrExit(processEnvironment(), 'worker');

const logger = createLogger({
  name: 'worker',
  level: config.logLevel,
  pretty: config.nodeEnv === 'development' && process.stdout.isTTY === true,
});
const fault = config.workerFault === undefined ? undefined : createFaultInjection(config.workerFault);
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
    migrationsDir: config.migrationsDir,
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
    tuning: config.workerTuning,
    verifyIntervalSeconds: config.verifyIntervalSeconds,
    driftAction: config.driftAction,
    verifyApiToken: config.verifyApiToken,
  });
} catch (err) {
  logger.fatal({ err }, `worker failed to start: ${err instanceof Error ? err.message : String(err)}`);
  await lifecycle.close();
  // A configuration the database refuses (APPROVALS_REQUIRED other than the api's) is a configuration error: 78.
  exitAfterFlush(logger, err instanceof ConfigError ? CONFIG_ERROR_EXIT_CODE : 1);
}
