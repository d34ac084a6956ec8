import { AppError, sqlstateOf } from '@valhalla/core';
import { MeasurementUnavailable } from './MeasurementUnavailable.js';

/** Node's system error codes worth naming: they say what failed without saying where. */
const SYSTEM_CODE = /^E[A-Z0-9_]{2,30}$/;

const systemCodeOf = (error: unknown): string | undefined => {
  for (let current: unknown = error, depth = 0; current instanceof Error && depth < 5; current = current.cause, depth += 1) {
    const code = (current as { code?: unknown }).code;
    if (typeof code === 'string' && SYSTEM_CODE.test(code)) return code;
  }
  return undefined;
};

/**
 * Why a check could not run, in one line that is safe to store and show to every token holder: our own typed errors
 * keep their message (written for operators), anything else is reduced to its kind (SQLSTATE, a system error code,
 * a timeout). Never a stack, a host, a port or a connection string: those stay in the worker's log.
 */
export const describeError = (error: unknown): string => {
  if (error instanceof MeasurementUnavailable) return error.message;
  if (error instanceof AppError) return `${error.code}: ${error.message}`;
  const sqlstate = sqlstateOf(error);
  if (sqlstate !== undefined) return `database error (SQLSTATE ${sqlstate})`;
  if (error instanceof Error && (error.name === 'TimeoutError' || error.name === 'AbortError')) return 'timed out';
  const code = systemCodeOf(error);
  if (code !== undefined) return `connection failed (${code})`;
  return `unexpected error (${error instanceof Error ? error.name : typeof error})`;
};
