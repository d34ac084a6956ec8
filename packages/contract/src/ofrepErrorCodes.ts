/**
 * The error codes the OFREP routes (`/ofrep/v1/…`, the OpenFeature Remote Evaluation Protocol) answer with, in OFREP's
 * own shapes (`{"key"?, "errorCode", "errorDetails"}`) rather than the contract's `{"error": {…}}`: OpenFeature
 * providers read them. The codes are OpenFeature's (its specification's error codes); the statuses are the ones OFREP's
 * OpenAPI definition gives them. 401 and 403 carry `{"errorDetails"}` only: OFREP defines no code for them.
 */
export const OFREP_ERROR_CODES = {
  PARSE_ERROR: {
    status: 400,
    description: 'The body could not be read as an evaluation request: not JSON, not a JSON object, not application/json, compressed, empty or over the size limit.',
  },
  INVALID_CONTEXT: {
    status: 400,
    description: 'The body\'s `context` is not a JSON object, or its `targetingKey` is not a string.',
  },
  FLAG_NOT_FOUND: { status: 404, description: 'The single-flag route was asked for a key that is not one of the four flags.' },
  GENERAL: {
    status: 503,
    description: 'This api instance cannot vouch for the state (PostgreSQL unreachable past LIVE_MAX_STALENESS_MS) or is shutting down; the provider returns the default.',
  },
} as const satisfies Record<string, { status: number; description: string }>;

export type OfrepErrorCode = keyof typeof OFREP_ERROR_CODES;
