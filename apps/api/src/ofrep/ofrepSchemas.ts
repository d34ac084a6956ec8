import { OFREP_ERROR_CODES, type OfrepErrorCode } from '@valhalla/contract';
import { z } from 'zod';
import { OFREP_FLAG_KEYS } from './ofrepFlags.js';

/**
 * OFREP's request and answer shapes (https://github.com/open-feature/protocol/blob/main/service/openapi.yaml) for the OpenAPI document. The routes
 * do not validate or serialise with them (the answers are JSON rendered once per state, the requests are checked by
 * readEvaluationRequest to answer in OFREP's error shapes); they describe what those produce.
 */

const codesWithStatus = (status: number) =>
  (Object.keys(OFREP_ERROR_CODES) as OfrepErrorCode[]).filter((code) => OFREP_ERROR_CODES[code].status === status);

export const ofrepEvaluationRequest = z
  .looseObject({
    context: z
      .looseObject({ targetingKey: z.string().optional() })
      .optional()
      .describe('The evaluation context: accepted and not used (there is no targeting; every caller gets the same value); may be absent'),
  })
  .meta({ id: 'OfrepEvaluationRequest' });

const metadata = z
  .object({
    version: z.number().int().describe('The state version (the audit id of the newest applied change)'),
    etag: z.string().describe('The state entity tag (as /api/governance/live\'s ETag, unquoted)'),
    updated_at: z.string().optional(),
    changed_by: z.string().optional().describe('Operator and reader tokens only'),
    reason: z.string().optional().describe('The reason of the newest change; operator and reader tokens only'),
  })
  .describe('Flag metadata: the live state\'s version and etag; who changed it and why for operator and reader tokens');

const ofrepEvaluationSuccess = z
  .object({
    key: z.enum(OFREP_FLAG_KEYS),
    value: z.boolean(),
    reason: z.literal('STATIC').describe('The value does not depend on the context'),
    variant: z.enum(['on', 'off']),
    metadata,
  })
  .meta({ id: 'OfrepEvaluationSuccess', description: 'One flag\'s evaluation' });

const ofrepBulkEvaluationSuccess = z
  .object({
    flags: z.array(ofrepEvaluationSuccess).describe('Every flag, in a fixed order'),
    metadata: z.object({ version: z.number().int(), etag: z.string() }),
  })
  .meta({ id: 'OfrepBulkEvaluationSuccess', description: 'Every flag\'s evaluation; the ETag header is the state\'s' });

const failure = (status: number, withKey: boolean, description: string) => {
  const [first, ...rest] = codesWithStatus(status);
  if (first === undefined) throw new Error(`no OFREP error code has status ${status}`);
  const shape = { errorCode: z.enum([first, ...rest]), errorDetails: z.string() };
  return (withKey ? z.object({ key: z.string(), ...shape }) : z.object(shape)).describe(description);
};

const general = (description: string) => z.object({ errorDetails: z.string() }).describe(description);

const AUTH_ANSWERS = {
  401: general('No valid credential: `Authorization: Bearer <token>` or `X-API-Key: <token>` of an app, reader or operator token'),
  403: general('The token\'s role (alerts) may not evaluate flags'),
};

/** The single-flag route's answers by status. */
export const singleEvaluationResponses = {
  200: ofrepEvaluationSuccess,
  400: failure(400, true, 'The body is not an evaluation request (PARSE_ERROR) or its context is malformed (INVALID_CONTEXT)'),
  ...AUTH_ANSWERS,
  404: failure(404, true, 'No such flag (FLAG_NOT_FOUND)'),
  503: failure(503, true, 'This instance cannot vouch for the state, or is shutting down (GENERAL): the provider returns the default'),
};

/** The bulk route's answers by status. */
export const bulkEvaluationResponses = {
  200: ofrepBulkEvaluationSuccess,
  304: z.null().describe('Not modified: If-None-Match names the current ETag'),
  400: failure(400, false, 'The body is not an evaluation request (PARSE_ERROR) or its context is malformed (INVALID_CONTEXT)'),
  ...AUTH_ANSWERS,
  503: failure(503, false, 'This instance cannot vouch for the state, or is shutting down (GENERAL): the provider returns the default'),
};
