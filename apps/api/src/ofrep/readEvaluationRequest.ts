import { OfrepError } from './OfrepError.js';

const isObject = (value: unknown): value is Record<string, unknown> =>
  typeof value === 'object' && value !== null && !Array.isArray(value);

/**
 * Checks an OFREP evaluation request (single or bulk): a JSON object, with a `context` object whose `targetingKey`,
 * when present, is a string. The context is not used (no targeting), so it may be empty or absent (OpenFeature's
 * Python OFREP provider sends `{}` when the evaluation context is empty) and a missing targetingKey is not an error;
 * other fields are ignored, as OFREP's schema allows them.
 * @throws OfrepError PARSE_ERROR when the body is not a JSON object; INVALID_CONTEXT for a malformed context.
 */
export const readEvaluationRequest = (body: unknown): void => {
  if (!isObject(body)) {
    throw new OfrepError('PARSE_ERROR', 'the request body must be a JSON object: {"context": {…}}');
  }
  if (!Object.hasOwn(body, 'context')) return;
  const { context } = body;
  if (!isObject(context)) throw new OfrepError('INVALID_CONTEXT', 'context must be a JSON object');
  if (Object.hasOwn(context, 'targetingKey') && typeof context.targetingKey !== 'string') {
    throw new OfrepError('INVALID_CONTEXT', 'context.targetingKey must be a string');
  }
};
