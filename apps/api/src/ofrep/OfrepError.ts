import { OFREP_ERROR_CODES, type OfrepErrorCode } from '@valhalla/contract';

/**
 * An OFREP answer that is not an evaluation: `{"key"?, "errorCode", "errorDetails"}` with the code's status
 * (OFREP_ERROR_CODES). The single-flag route adds `key`, which OFREP's failure shape requires there.
 */
export class OfrepError extends Error {
  readonly code: OfrepErrorCode;

  constructor(code: OfrepErrorCode, details: string, options: { cause?: unknown } = {}) {
    super(details, options.cause === undefined ? undefined : { cause: options.cause });
    this.name = 'OfrepError';
    this.code = code;
  }

  get status(): number {
    return OFREP_ERROR_CODES[this.code].status;
  }

  /** The answer's JSON, with the flag key on the single-flag route. */
  body(key: string | undefined): string {
    const failure = { errorCode: this.code, errorDetails: this.message };
    return JSON.stringify(key === undefined ? failure : { key, ...failure });
  }
}

/**
 * 401 (no valid credential) or 403 (a role that may not evaluate): OFREP defines no error code for them, so the body
 * is its general error shape, `{"errorDetails"}`.
 */
export class OfrepAuthError extends Error {
  constructor(readonly status: 401 | 403, details: string) {
    super(details);
    this.name = 'OfrepAuthError';
  }

  body(): string {
    return JSON.stringify({ errorDetails: this.message });
  }
}
