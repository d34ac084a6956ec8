import { AppError, RetryableDatabaseError } from '@valhalla/core';
import { type ErrorCode } from '@valhalla/contract';
import type { FastifyError, FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import { ApiError, errorBody, statusOf, type ApiErrorDetail } from '../errors.js';

/** Fastify's own error codes that are a client's fault, mapped onto ours. */
const FASTIFY_CODES: Readonly<Record<string, ErrorCode>> = {
  FST_ERR_CTP_INVALID_MEDIA_TYPE: 'UNSUPPORTED_MEDIA_TYPE',
  FST_ERR_CTP_INVALID_TYPE: 'UNSUPPORTED_MEDIA_TYPE',
  FST_ERR_CTP_BODY_TOO_LARGE: 'PAYLOAD_TOO_LARGE',
  FST_ERR_CTP_EMPTY_JSON_BODY: 'INVALID_JSON',
  FST_ERR_CTP_INVALID_JSON_BODY: 'INVALID_JSON',
  FST_ERR_CTP_INVALID_CONTENT_LENGTH: 'VALIDATION_FAILED',
  FST_ERR_BAD_URL: 'VALIDATION_FAILED',
  FST_ERR_ASYNC_CONSTRAINT: 'VALIDATION_FAILED',
};

/** Any other client error Fastify raises, by status. */
const BY_STATUS: Readonly<Record<number, ErrorCode>> = {
  400: 'VALIDATION_FAILED',
  401: 'UNAUTHENTICATED',
  404: 'NOT_FOUND',
  413: 'PAYLOAD_TOO_LARGE',
  415: 'UNSUPPORTED_MEDIA_TYPE',
  429: 'RATE_LIMITED',
};

type ValidationIssue = { instancePath?: string; message?: string; keyword?: string; params?: Record<string, unknown> };

/**
 * One detail per offending field. Zod reports unknown keys once for the object; they are split so that every
 * unknown field is named. A problem with the whole body/query names the part itself.
 */
const validationDetails = (issues: readonly ValidationIssue[], context: string | undefined): ApiErrorDetail[] =>
  issues.flatMap((issue) => {
    const path = (issue.instancePath ?? '').split('/').filter((segment) => segment.length > 0).join('.');
    const keys = issue.params?.keys;
    if (issue.keyword === 'unrecognized_keys' && Array.isArray(keys)) {
      return keys.map((key) => ({ field: path.length > 0 ? `${path}.${String(key)}` : String(key), message: 'unknown field' }));
    }
    return [{ field: path.length > 0 ? path : (context ?? 'body'), message: issue.message ?? 'invalid value' }];
  });

const CONTEXT_NAMES: Readonly<Record<string, string>> = { body: 'body', querystring: 'query string', params: 'path', headers: 'headers' };

type Classified = { code: ErrorCode; message: string; details?: ApiErrorDetail[] | undefined };

const classify = (error: FastifyError | Error, request: FastifyRequest): Classified => {
  if (error instanceof ApiError) return { code: error.code, message: error.message, details: error.details as ApiErrorDetail[] | undefined };
  if (error instanceof RetryableDatabaseError) return { code: 'DEPENDENCY_UNAVAILABLE', message: 'PostgreSQL is unavailable; retry later' };
  const fastifyError = error as FastifyError & { validationContext?: string };
  if (Array.isArray(fastifyError.validation)) {
    const context = fastifyError.validationContext;
    return {
      code: 'VALIDATION_FAILED',
      message: `the ${CONTEXT_NAMES[context ?? 'body'] ?? 'request'} failed validation`,
      details: validationDetails(fastifyError.validation, context),
    };
  }
  const mapped = typeof fastifyError.code === 'string' ? FASTIFY_CODES[fastifyError.code] : undefined;
  if (mapped !== undefined) return { code: mapped, message: clientMessage(mapped, fastifyError) };
  const status = fastifyError.statusCode;
  if (!(error instanceof AppError) && typeof status === 'number' && status >= 400 && status < 500) {
    const code = BY_STATUS[status] ?? 'VALIDATION_FAILED';
    return { code, message: clientMessage(code, fastifyError) };
  }
  return { code: 'INTERNAL_ERROR', message: `internal error; reported in the server log under request id ${request.id}` };
};

const clientMessage = (code: ErrorCode, error: FastifyError): string => {
  switch (code) {
    case 'PAYLOAD_TOO_LARGE':
      return 'the request body exceeds the size limit';
    case 'UNSUPPORTED_MEDIA_TYPE':
      return 'the request body must be application/json';
    case 'INVALID_JSON':
      return 'the request body is not valid JSON';
    default:
      return error.message;
  }
};

export const sendError = (reply: FastifyReply, classified: Classified): FastifyReply =>
  reply
    .code(statusOf(classified.code))
    .type('application/json; charset=utf-8')
    .send(errorBody(classified.code, classified.message, classified.details));

/**
 * One error shape for every answer that is not a success, unknown routes included. Statuses come from the core
 * ERROR_CODES registry only. A 500 never carries internals: the error is logged with the request id instead.
 */
export const registerErrorHandling = (app: FastifyInstance): void => {
  app.setErrorHandler((error: FastifyError | Error, request, reply) => {
    const classified = classify(error, request);
    const status = statusOf(classified.code);
    if (status >= 500) {
      request.log[status === 503 ? 'warn' : 'error']({ err: error, code: classified.code }, 'request failed');
    } else {
      request.log.debug({ code: classified.code, message: classified.message }, 'request rejected');
    }
    return sendError(reply, classified);
  });
  app.setNotFoundHandler((request, reply) => sendError(reply, { code: 'NOT_FOUND', message: `no route ${request.method} ${request.url.split('?')[0] ?? ''}` }));
};
