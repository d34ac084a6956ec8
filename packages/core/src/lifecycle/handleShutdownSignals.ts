import { exitAfterFlush, type Logger } from '../logger/index.js';
import type { Lifecycle, ShutdownOutcome } from './createLifecycle.js';

/**
 * For entrypoints only (main.ts): SIGTERM and SIGINT close the lifecycle once and exit 0 after the log is flushed;
 * a second signal while closing changes nothing (no fall-back to Node's abrupt default). Past `hardExitMs` the
 * process exits 1 rather than hang on a step that ignores its bound.
 */
export const handleShutdownSignals = (options: {
  lifecycle: Lifecycle;
  logger: Logger;
  hardExitMs: number;
  /** Logged with the outcome when the shutdown finished (one line: separate lines can reach a pipe out of order). */
  stoppedMessage: string;
}): void => {
  const { lifecycle, logger } = options;
  const onSignal = (signal: NodeJS.Signals) => {
    if (lifecycle.closing) {
      logger.info({ signal }, 'shutdown already in progress');
      return;
    }
    logger.info({ signal }, 'shutting down');
    setTimeout(() => {
      logger.error('shutdown did not finish in time; exiting');
      process.exit(1);
    }, options.hardExitMs).unref();
    void lifecycle.close().then((outcome: ShutdownOutcome) => {
      logger.info(outcome, options.stoppedMessage);
      exitAfterFlush(logger, 0);
    });
  };
  process.on('SIGTERM', onSignal);
  process.on('SIGINT', onSignal);
};
