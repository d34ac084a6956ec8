import type { FastifyInstance } from 'fastify';
import { ApiError } from '../errors.js';

/** The largest request body accepted (the contract's bodies are a few hundred bytes). */
export const BODY_LIMIT_BYTES = 16 * 1024;

const utf8 = new TextDecoder('utf-8', { fatal: true, ignoreBOM: false });

/**
 * Parses JSON text, refusing keys that are prototype-pollution vectors: `__proto__` anywhere, and `constructor`
 * holding a `prototype`. JSON.parse itself makes them own properties (harmless), but a later Object.assign or a
 * naive merge would not, so they are refused at the door.
 * @throws ApiError INVALID_JSON.
 */
export const parseJsonText = (text: string): unknown => {
  let forbidden = false;
  let parsed: unknown;
  try {
    parsed = JSON.parse(text, function reviver(key, value: unknown) {
      if (key === '__proto__') forbidden = true;
      if (key === 'constructor' && value !== null && typeof value === 'object' && Object.hasOwn(value, 'prototype')) forbidden = true;
      return value;
    });
  } catch (error) {
    throw new ApiError('INVALID_JSON', 'the request body is not valid JSON', { cause: error });
  }
  if (forbidden) throw new ApiError('INVALID_JSON', 'the request body contains a forbidden key (__proto__ or constructor.prototype)');
  return parsed;
};

/**
 * application/json is the only body type: every other content type (text/plain included, which Fastify would parse
 * by default) is 415. Bodies are read as bytes so that invalid UTF-8 is refused rather than silently replaced.
 */
export const registerJsonBody = (app: FastifyInstance): void => {
  app.removeAllContentTypeParsers();
  app.addContentTypeParser('application/json', { parseAs: 'buffer', bodyLimit: BODY_LIMIT_BYTES }, (request, body, done) => {
    try {
      // Bodies are read as sent: a compressed one would be judged as (invalid) text, so it is refused by name.
      const encoding = request.headers['content-encoding']?.trim().toLowerCase();
      if (encoding !== undefined && encoding !== '' && encoding !== 'identity') {
        throw new ApiError('UNSUPPORTED_MEDIA_TYPE', `Content-Encoding ${encoding} is not supported; send the JSON body uncompressed`);
      }
      const bytes = body as Buffer;
      if (bytes.length === 0) throw new ApiError('INVALID_JSON', 'the request body is empty; send a JSON object');
      let text: string;
      try {
        text = utf8.decode(bytes);
      } catch (error) {
        throw new ApiError('INVALID_JSON', 'the request body is not valid UTF-8', { cause: error });
      }
      const parsed = parseJsonText(text);
      // Fastify represents "no body" as null, so a literal JSON null must be refused here to stay distinguishable.
      if (parsed === null) {
        throw new ApiError('VALIDATION_FAILED', 'the body failed validation', {
          details: [{ field: 'body', message: 'must be a JSON object, not null' }],
        });
      }
      done(null, parsed);
    } catch (error) {
      done(error as Error, undefined);
    }
  });
};
