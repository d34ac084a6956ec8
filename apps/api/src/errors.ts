import { AppError, type ErrorDetail } from '@valhalla/core';
import { ERROR_CODES, type ErrorCode } from '@valhalla/contract';

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
