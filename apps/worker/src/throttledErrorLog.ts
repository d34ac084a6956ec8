import type { Logger } from '@valhalla/core';

const DEFAULT_INTERVAL_MS = 5_000;

/**
 * An error listener that logs at most once per interval: while Redis is down every reconnect attempt fails, and one
 * line every few seconds says so as well as hundreds would.
 */
export const throttledErrorLog = (log: Logger, message: string, intervalMs = DEFAULT_INTERVAL_MS) => {
  let last = 0;
  return (err: unknown): void => {
    const now = Date.now();
    if (now - last < intervalMs) return;
    last = now;
    log.error({ err }, message);
  };
};
