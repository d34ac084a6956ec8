import type { ErrorCode } from '@valhalla/contract';
import type { FastifyInstance } from 'fastify';
import { errorBody } from '../errors.js';

const CODE_BY_STATUS: Readonly<Record<number, ErrorCode>> = {
  400: 'VALIDATION_FAILED',
  401: 'UNAUTHENTICATED',
  403: 'FORBIDDEN',
  404: 'NOT_FOUND',
  413: 'PAYLOAD_TOO_LARGE',
  415: 'UNSUPPORTED_MEDIA_TYPE',
  429: 'RATE_LIMITED',
  503: 'DEPENDENCY_UNAVAILABLE',
};

const isContractShape = (value: unknown): boolean => {
  const error = (value as { error?: unknown } | null)?.error;
  return typeof error === 'object' && error !== null && typeof (error as { code?: unknown }).code === 'string';
};

/**
 * For a scope whose routes a plugin answers itself (the queue dashboard: bull-board sets its own error handler and
 * sends `{"error": "...", "details": stack}`): rewrites every error answer that is not in the contract's shape into
 * it. A 5xx body is logged and replaced by INTERNAL_ERROR, so no stack or internal message reaches the client.
 */
export const enforceContractErrorShape = (scope: FastifyInstance): void => {
  scope.addHook('onSend', async (request, reply, payload) => {
    if (reply.statusCode < 400 || (typeof payload !== 'string' && !Buffer.isBuffer(payload))) return payload;
    const text = payload.toString();
    let parsed: unknown;
    try {
      parsed = JSON.parse(text);
    } catch {
      // Not JSON: a page meant for a browser (the sign-in page), which keeps its own form.
      return payload;
    }
    if (isContractShape(parsed)) return payload;
    const serverError = reply.statusCode >= 500;
    const code: ErrorCode = serverError ? 'INTERNAL_ERROR' : (CODE_BY_STATUS[reply.statusCode] ?? 'VALIDATION_FAILED');
    const original = (parsed ?? {}) as { error?: unknown; message?: unknown };
    const clientMessage = typeof original.message === 'string' ? original.message : typeof original.error === 'string' ? original.error : undefined;
    if (serverError) request.log.error({ status: reply.statusCode, body: text.slice(0, 2000) }, 'dashboard error answered as INTERNAL_ERROR');
    const message = serverError || clientMessage === undefined
      ? serverError
        ? `internal error; reported in the server log under request id ${request.id}`
        : `request failed with status ${reply.statusCode}`
      : clientMessage;
    reply.type('application/json; charset=utf-8');
    return JSON.stringify(errorBody(code, message));
  });
};
