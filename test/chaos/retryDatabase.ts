import { setTimeout as sleep } from 'node:timers/promises';
import { isRetryableDatabaseError } from '../../packages/core/src/index.js';

const RETRY_MS = 250;

/**
 * Runs one of the suite's own database calls, again while it fails the way a busy or briefly unreachable server does
 * (too many connections: the machine's PostgreSQL is shared; a terminated session), for at most `timeoutMs`. Other
 * errors are thrown at once: the suite's reads are not where a product fault should hide.
 * @throws the last error when the bound passed.
 */
export const retryDatabase = async <T>(call: () => Promise<T>, timeoutMs = 30_000): Promise<T> => {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    try {
      return await call();
    } catch (error) {
      if (!isRetryableDatabaseError(error) || Date.now() + RETRY_MS > deadline) throw error;
      await sleep(RETRY_MS);
    }
  }
};
