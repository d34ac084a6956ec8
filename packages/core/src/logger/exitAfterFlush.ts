import type { Logger } from 'pino';

/**
 * Exits once the logger's buffered lines are written. pino writes stdout asynchronously; a plain process.exit
 * writes the last buffered lines synchronously, and they can overtake a write still in flight, so the final log lines
 * would come out of order (or, on a full pipe, be lost). Bounded: exits anyway after `timeoutMs`.
 */
export const exitAfterFlush = (logger: Logger, code: number, timeoutMs = 2_000): void => {
  setTimeout(() => process.exit(code), timeoutMs).unref();
  try {
    logger.flush(() => process.exit(code));
  } catch {
    process.exit(code);
  }
};
