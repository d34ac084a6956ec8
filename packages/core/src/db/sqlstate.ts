import {
  BackendTerminatedError,
  BackendTerminatedUnexpectedlyError,
  ConnectionError,
  IdleTransactionTimeoutError,
  UniqueIntegrityConstraintViolationError,
} from 'slonik';
import { AppError, DatabaseConflictError, RetryableDatabaseError } from '../errors/index.js';

/**
 * The one place where PostgreSQL SQLSTATE codes (and socket error codes) get a meaning. Decisions are made on codes
 * and error classes, never on message text.
 */
export const SQLSTATE = {
  uniqueViolation: '23505',
  serializationFailure: '40001',
  deadlockDetected: '40P01',
  lockNotAvailable: '55P03',
  adminShutdown: '57P01',
  crashShutdown: '57P02',
  cannotConnectNow: '57P03',
  tooManyConnections: '53300',
  idleInTransactionTimeout: '25P03',
  readOnlySqlTransaction: '25006',
} as const;

const RETRYABLE_SQLSTATES: ReadonlySet<string> = new Set([
  SQLSTATE.serializationFailure,
  SQLSTATE.deadlockDetected,
  SQLSTATE.lockNotAvailable,
  SQLSTATE.adminShutdown,
  SQLSTATE.crashShutdown,
  SQLSTATE.cannotConnectNow,
  SQLSTATE.tooManyConnections,
  SQLSTATE.idleInTransactionTimeout,
  // A failover in progress: the old primary (or a replica behind the same address) refuses writes until it is promoted.
  SQLSTATE.readOnlySqlTransaction,
]);

/** Class 08: connection exceptions. */
const isConnectionExceptionClass = (sqlstate: string) => sqlstate.startsWith('08');

const RETRYABLE_SOCKET_CODES: ReadonlySet<string> = new Set([
  'ECONNREFUSED',
  'ECONNRESET',
  'ETIMEDOUT',
  'EPIPE',
  'EHOSTUNREACH',
  'ENETUNREACH',
  'EAI_AGAIN',
]);

type Coded = { code?: unknown; constraint?: unknown; cause?: unknown; severity?: unknown };

const causeChain = (error: unknown): Coded[] => {
  const chain: Coded[] = [];
  let current: unknown = error;
  while (current !== null && typeof current === 'object' && chain.length < 10) {
    chain.push(current);
    current = (current as Coded).cause;
  }
  return chain;
};

/**
 * The SQLSTATE carried by the error or any of its causes, if any. Only a server error (it has a severity) carries
 * one: a socket error's code such as EPIPE has the same five-letter shape.
 */
export const sqlstateOf = (error: unknown): string | undefined => {
  for (const link of causeChain(error)) {
    if (typeof link.code === 'string' && typeof link.severity === 'string' && /^[0-9A-Z]{5}$/.test(link.code)) return link.code;
  }
  return undefined;
};

/**
 * The server's own message when the error (or one of its causes) is a server error, else the error's message: slonik
 * replaces the text of some server errors with a generic one ("Query violates a unique integrity constraint."), and a
 * failed migration must say what PostgreSQL said. For reports only: decisions are made on sqlstateOf.
 */
export const serverMessageOf = (error: unknown): string => {
  for (const link of causeChain(error)) {
    if (typeof link.severity === 'string' && typeof (link as { message?: unknown }).message === 'string') return (link as { message: string }).message;
  }
  return error instanceof Error ? error.message : String(error);
};

const socketCodeOf = (error: unknown): string | undefined => {
  for (const link of causeChain(error)) {
    if (typeof link.code === 'string' && RETRYABLE_SOCKET_CODES.has(link.code)) return link.code;
  }
  return undefined;
};

/** True when retrying the same operation may succeed: serialization failure, deadlock, lost connection. */
export const isRetryableDatabaseError = (error: unknown): boolean => {
  if (error instanceof RetryableDatabaseError) return true;
  if (error instanceof AppError) return false;
  if (
    error instanceof ConnectionError ||
    error instanceof BackendTerminatedError ||
    error instanceof BackendTerminatedUnexpectedlyError ||
    error instanceof IdleTransactionTimeoutError
  ) {
    return true;
  }
  const sqlstate = sqlstateOf(error);
  if (sqlstate !== undefined) return RETRYABLE_SQLSTATES.has(sqlstate) || isConnectionExceptionClass(sqlstate);
  return socketCodeOf(error) !== undefined;
};

/** Socket failures that happen before a connection is made: nothing was sent. */
const CONNECT_SOCKET_CODES: ReadonlySet<string> = new Set(['ECONNREFUSED', 'EHOSTUNREACH', 'ENETUNREACH', 'EAI_AGAIN', 'ENOTFOUND']);

/**
 * True when a failed statement certainly never reached PostgreSQL: no connection could be made (the pool's
 * ConnectionError, a refused or unresolvable address, too many connections, the server starting or shutting down).
 * Any other failure of a write (a connection lost during the statement, a timeout) leaves its outcome unknown: it may
 * have committed.
 */
export const wasNeverSent = (error: unknown): boolean =>
  causeChain(error).some(
    (link) =>
      link instanceof ConnectionError ||
      (typeof link.code === 'string' && CONNECT_SOCKET_CODES.has(link.code)) ||
      (typeof link.severity === 'string' &&
        (link.code === SQLSTATE.tooManyConnections || link.code === SQLSTATE.cannotConnectNow)),
  );

/**
 * Maps a database error to the product's typed errors: retryable ones to RetryableDatabaseError, unique violations
 * to DatabaseConflictError. Anything else (including AppErrors thrown by the caller) is returned unchanged.
 */
export const toDatabaseError = (error: unknown): unknown => {
  if (error instanceof AppError) return error;
  const sqlstate = sqlstateOf(error);
  if (error instanceof UniqueIntegrityConstraintViolationError || sqlstate === SQLSTATE.uniqueViolation) {
    const constraint = causeChain(error).map((link) => link.constraint).find((c): c is string => typeof c === 'string');
    return new DatabaseConflictError(`unique constraint ${constraint ?? '(unknown)'} rejected the write`, constraint, error);
  }
  if (isRetryableDatabaseError(error)) {
    // The message names the kind only: the original (host, port, SQL) stays in `cause`, for logs.
    return new RetryableDatabaseError(`retryable database error (${sqlstate ?? socketCodeOf(error) ?? 'connection'})`, sqlstate, error);
  }
  return error;
};

/**
 * True when a job's failure is transient, so the worker retries it itself whatever the producer's attempts: every
 * retryable database error, and Redis unreachable (ioredis gave up on a command, or a socket error).
 */
export const isTransientFailure = (error: unknown): boolean =>
  isRetryableDatabaseError(error) ||
  causeChain(error).some((link) => (link as { name?: unknown }).name === 'MaxRetriesPerRequestError');
