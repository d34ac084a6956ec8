import { isRetryableDatabaseError } from '@valhalla/core';
import { ApiError } from './errors.js';

/** Longest a request waits on Redis before answering 503 (the producer connection has no offline queue). */
const REDIS_CALL_TIMEOUT_MS = 2_000;

/** A dependency call that did not settle in time. */
export class DependencyTimeoutError extends Error {}

/** Rejects with a DependencyTimeoutError when `promise` has not settled within `ms`; the timer never keeps the process alive. */
export const withTimeout = async <T>(promise: Promise<T>, ms: number, what: string): Promise<T> => {
  let timer: NodeJS.Timeout | undefined;
  const timeout = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new DependencyTimeoutError(`${what} timed out after ${ms} ms`)), ms);
    timer.unref();
  });
  try {
    return await Promise.race([promise, timeout]);
  } finally {
    clearTimeout(timer);
  }
};

/**
 * Runs a Redis (BullMQ) call. Every failure of a well-formed call is a dependency problem: connection refused,
 * offline (no offline queue), command timeout, or BullMQ still waiting for a connection.
 * @throws ApiError DEPENDENCY_UNAVAILABLE, with the original error as cause (logged, never shown).
 */
export const callRedis = async <T>(what: string, call: () => Promise<T>): Promise<T> => {
  try {
    return await withTimeout(call(), REDIS_CALL_TIMEOUT_MS, what);
  } catch (error) {
    throw new ApiError('DEPENDENCY_UNAVAILABLE', 'Redis is unavailable; retry later', { cause: error });
  }
};

/**
 * Runs a PostgreSQL call. A lost or refused connection (and other retryable states) becomes 503; anything else is
 * a bug and propagates (500 INTERNAL_ERROR).
 * @throws ApiError DEPENDENCY_UNAVAILABLE for retryable database errors; the original error otherwise.
 */
export const callDatabase = async <T>(call: () => Promise<T>): Promise<T> => {
  try {
    return await call();
  } catch (error) {
    if (error instanceof ApiError) throw error;
    if (isRetryableDatabaseError(error)) {
      throw new ApiError('DEPENDENCY_UNAVAILABLE', 'PostgreSQL is unavailable; retry later', { cause: error });
    }
    throw error;
  }
};
