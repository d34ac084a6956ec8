import { isRetryableDatabaseError, TimeoutError, withTimeout } from '@valhalla/core';
import { ApiError } from './errors.js';

/** Longest a request waits on Redis before answering 503 (the producer connection has no offline queue). */
const REDIS_CALL_TIMEOUT_MS = 2_000;

/**
 * Runs a Redis (BullMQ) call. Every failure of a well-formed call is a dependency problem: connection refused,
 * offline (no offline queue), command timeout, or BullMQ still waiting for a connection.
 * @throws ApiError DEPENDENCY_UNAVAILABLE, with the original error as cause (logged, never shown).
 */
export const callRedis = async <T>(what: string, call: () => Promise<T>, timeoutMs = REDIS_CALL_TIMEOUT_MS): Promise<T> => {
  try {
    return await withTimeout(call(), timeoutMs, what);
  } catch (error) {
    throw new ApiError('DEPENDENCY_UNAVAILABLE', 'Redis is unavailable; retry later', { cause: error });
  }
};

/**
 * Runs a PostgreSQL call. A lost or refused connection (and other retryable states) becomes 503; anything else is
 * a bug and propagates (500 INTERNAL_ERROR). With `deadlineMs`, a call still unsettled then is taken as PostgreSQL
 * unavailable too: a connection that went silent (a network partition, a frozen server) fails no query by itself, and
 * neither slonik nor the server bounds a wait the server never sees. The call is not cancelled.
 * @throws ApiError DEPENDENCY_UNAVAILABLE for retryable database errors; the original error otherwise.
 */
export const callDatabase = async <T>(call: () => Promise<T>, deadlineMs?: number): Promise<T> => {
  try {
    return await (deadlineMs === undefined ? call() : withTimeout(call(), deadlineMs, 'PostgreSQL call'));
  } catch (error) {
    if (error instanceof ApiError) throw error;
    if (error instanceof TimeoutError) {
      throw new ApiError('DEPENDENCY_UNAVAILABLE', `PostgreSQL did not answer within ${error.timeoutMs} ms; retry later`, { cause: error });
    }
    if (isRetryableDatabaseError(error)) {
      throw new ApiError('DEPENDENCY_UNAVAILABLE', 'PostgreSQL is unavailable; retry later', { cause: error });
    }
    throw error;
  }
};
