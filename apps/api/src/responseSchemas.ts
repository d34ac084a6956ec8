import { ERROR_CODES, errorDetail, type ErrorCode } from '@valhalla/contract';
import { z } from 'zod';

/**
 * Error responses per status. What each route answers on success is in @valhalla/contract (httpResponses.ts): the
 * serializer validates every answer against those schemas (a mismatch is a bug: 500), and the OpenAPI document is
 * generated from them. Schemas with an `id` become `components.schemas` entries.
 */

/** The error statuses a route can answer; the contract's 400–503 (500 is never documented as an answer). */
export type ErrorStatus = 400 | 401 | 403 | 404 | 409 | 413 | 415 | 429 | 503;

const ERROR_STATUS_SUMMARY: Readonly<Record<ErrorStatus, string>> = {
  400: 'The request failed validation or is not valid JSON',
  401: 'Missing, malformed or unknown bearer token',
  403: 'The token is valid but its actor may not perform this action',
  404: 'No such route, job or resource',
  409: 'Conflict with an earlier request or the current state',
  413: 'The request body exceeds the size limit',
  415: 'The request body is not application/json',
  429: 'Rate limit exceeded for this token; see Retry-After',
  503: 'PostgreSQL or Redis is unavailable, or the server is shutting down; retry later',
};

/**
 * Every code of a status comes from the ERROR_CODES registry, the same table the error handler takes the status
 * from, so an answer's code is always in the enum of its status and serialisation can never reject an error body.
 */
const codesWithStatus = (status: number): [ErrorCode, ...ErrorCode[]] => {
  const codes = (Object.keys(ERROR_CODES) as ErrorCode[]).filter((code) => ERROR_CODES[code].status === status);
  const [first, ...rest] = codes;
  if (first === undefined) throw new Error(`no error code has status ${status}`);
  return [first, ...rest];
};

/** The description of a documented response: the meaning of the status and, for errors, the codes it carries. */
export const describeStatus = (status: number): string => {
  if (status === 200) return 'OK';
  if (status === 202) return 'Accepted: the job is queued; follow it at GET /api/jobs/{jobId}';
  const summary = (ERROR_STATUS_SUMMARY as Record<number, string | undefined>)[status];
  return summary === undefined ? `HTTP ${status}` : `${summary} (${codesWithStatus(status).join(', ')})`;
};

const errorSchemas = new Map<ErrorStatus, z.ZodType>();

/** The contract's error body for one status: `{"error": {"code", "message", "details"?}}`. */
export const errorResponse = (status: ErrorStatus): z.ZodType => {
  let schema = errorSchemas.get(status);
  if (schema === undefined) {
    schema = z
      .object({
        error: z.object({
          code: z.enum(codesWithStatus(status)),
          message: z.string(),
          details: z.array(errorDetail).optional(),
        }),
      })
      .meta({ id: `Error${status}`, description: ERROR_STATUS_SUMMARY[status] });
    errorSchemas.set(status, schema);
  }
  return schema;
};

/** `{ [status]: errorResponse(status) }` for each status, to spread into a route's `response`. */
export const errorResponses = (...statuses: ErrorStatus[]): Record<number, z.ZodType> =>
  Object.fromEntries(statuses.map((status) => [status, errorResponse(status)]));

/** What every /api route can answer whatever it does: bad token, a role or CSRF refusal, and a dependency or shutdown 503. */
const API_BASE_ERRORS: ErrorStatus[] = [401, 403, 503];
/** GET routes with a query string or path parameter. */
export const readErrors = (...more: ErrorStatus[]) => errorResponses(400, ...API_BASE_ERRORS, ...more);
/** POST routes with a JSON body, rate limited, with Idempotency-Key. */
export const writeErrors = (...more: ErrorStatus[]) => errorResponses(400, ...API_BASE_ERRORS, 409, 413, 415, 429, ...more);

