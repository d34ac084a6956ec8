import { exitAfterFlush, type Logger } from '../logger/index.js';
import type { Lifecycle, ShutdownOutcome } from './createLifecycle.js';

/** After the drain deadline, each closing step is bounded (about 10 s in all); past this, something is wrong. */
const HARD_EXIT_GRACE_MS = 15_000;

/**
 * For entrypoints only (main.ts): SIGTERM and SIGINT close the lifecycle once and exit 0 after the log is flushed;
 * a second signal while closing changes nothing (no fall-back to Node's abrupt default). Past the drain deadline
 * (`shutdownTimeoutMs`) and a grace for the bounded closing steps, the process exits 1 rather than hang on a step
 * that ignores its bound.
 */
export const handleShutdownSignals = (options: {
  lifecycle: Lifecycle;
  logger: Logger;
  /** SHUTDOWN_TIMEOUT_MS: how long in-flight work may take to finish. */
  shutdownTimeoutMs: number;
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
    }, options.shutdownTimeoutMs + HARD_EXIT_GRACE_MS).unref();
    void lifecycle.close().then((outcome: ShutdownOutcome) => {
      logger.info(outcome, options.stoppedMessage);
      exitAfterFlush(logger, 0);
    });
  };
  process.on('SIGTERM', onSignal);
  process.on('SIGINT', onSignal);
};
