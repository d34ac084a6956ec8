import { AppError, ERROR_CODES, isErrorCode, type ErrorCode, type ErrorDetail } from '@valhalla/core';

/** One field-level problem in an error response. */
export type ApiErrorDetail = { field: string; message: string };

/** The body of every error the API answers: `{"error": {"code", "message", "details"?}}`. */
export type ApiErrorBody = { error: { code: ErrorCode; message: string; details?: ApiErrorDetail[] } };

/**
 * An error the API answers on purpose. Its HTTP status comes from the core ERROR_CODES registry (through AppError),
 * never from the call site.
 */
export class ApiError extends AppError {
  constructor(code: ErrorCode, message: string, options: { cause?: unknown; details?: readonly ApiErrorDetail[] } = {}) {
    super(code, message, options);
  }
}

export const statusOf = (code: ErrorCode): number => ERROR_CODES[code].status;

const toDetail = (detail: ErrorDetail): ApiErrorDetail => ({ field: detail.field ?? '(root)', message: detail.message });

export const errorBody = (code: ErrorCode, message: string, details?: readonly ErrorDetail[]): ApiErrorBody => ({
  error: {
    code,
    message,
    ...(details === undefined || details.length === 0 ? {} : { details: details.map(toDetail) }),
  },
});

/**
 * Reads the code and leading message of a job's failedReason, as the worker writes it (`CODE: message` or
 * `CODE message`). A reason without a known leading code is reported as INTERNAL_ERROR with the reason verbatim.
 */
export const parseFailedReason = (failedReason: string): { code: ErrorCode; message: string } => {
  const match = /^([A-Z][A-Z0-9_]{2,})(?::\s*|\s+|$)/.exec(failedReason);
  const candidate = match?.[1];
  if (match !== null && isErrorCode(candidate)) {
    const rest = failedReason.slice(match[0].length).trim();
    return { code: candidate, message: rest.length > 0 ? rest : failedReason };
  }
  return { code: 'INTERNAL_ERROR', message: failedReason };
};
