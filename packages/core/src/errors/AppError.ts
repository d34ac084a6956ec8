import { ERROR_CODES, type ErrorCode } from '@valhalla/contract';

export type ErrorDetail = { field?: string; message: string; [key: string]: unknown };

/**
 * Base of every error the product raises on purpose. `code` is stable and documented; `details` are safe to show
 * to a client; `cause` keeps the original error for logs only.
 */
export class AppError extends Error {
  readonly code: ErrorCode;
  readonly details: readonly ErrorDetail[] | undefined;

  constructor(code: ErrorCode, message: string, options: { cause?: unknown; details?: readonly ErrorDetail[] } = {}) {
    super(message, options.cause === undefined ? undefined : { cause: options.cause });
    this.name = new.target.name;
    this.code = code;
    this.details = options.details;
  }

  get status(): number {
    return ERROR_CODES[this.code].status;
  }
}

/** A queued job payload that does not match the job catalog. Not retried. */
export class InvalidPayloadError extends AppError {
  constructor(details: readonly ErrorDetail[]) {
    super('INVALID_PAYLOAD', `invalid job payload: ${details.map((d) => `${d.field ?? '(root)'}: ${d.message}`).join('; ')}`, {
      details,
    });
  }
}

/** A database error that is safe to retry: serialization failure, deadlock, lost or refused connection. */
export class RetryableDatabaseError extends AppError {
  readonly sqlstate: string | undefined;

  constructor(message: string, sqlstate: string | undefined, cause: unknown) {
    super('DATABASE_RETRYABLE', message, { cause });
    this.sqlstate = sqlstate;
  }
}

/** A unique-constraint violation, surfaced as a domain conflict. */
export class DatabaseConflictError extends AppError {
  readonly constraint: string | undefined;

  constructor(message: string, constraint: string | undefined, cause: unknown) {
    super('DATABASE_CONFLICT', message, { cause });
    this.constraint = constraint;
  }
}

/** Invalid environment: names the variable. Entrypoints print it and exit non-zero. */
export class ConfigError extends AppError {
  constructor(details: readonly ErrorDetail[]) {
    super('CONFIG_INVALID', `invalid configuration: ${details.map((d) => `${d.field}: ${d.message}`).join('; ')}`, {
      details,
    });
  }
}

export class MigrationError extends AppError {
  readonly revision: string | undefined;

  constructor(code: ErrorCode, message: string, options: { revision?: string; cause?: unknown } = {}) {
    super(code, message, { cause: options.cause });
    this.revision = options.revision;
  }
}
