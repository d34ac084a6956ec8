import type { FastifyInstance } from 'fastify';
import { BODY_LIMIT_BYTES } from '../plugins/jsonBody.js';
import { OfrepError } from './OfrepError.js';

const utf8 = new TextDecoder('utf-8', { fatal: true, ignoreBOM: false });

/**
 * The OFREP scope's one body type, application/json (what every OFREP provider sends), read as bytes up to the api's
 * body limit. Every unreadable body is OFREP's PARSE_ERROR rather than the contract's INVALID_JSON / 415 / 413, since
 * OpenFeature providers read OFREP's codes only. No reviver: the context is never merged into anything (it is not
 * used at all), so a `__proto__` key in it is inert.
 */
export const registerOfrepBody = (scope: FastifyInstance): void => {
  scope.removeAllContentTypeParsers();
  scope.addContentTypeParser('application/json', { parseAs: 'buffer', bodyLimit: BODY_LIMIT_BYTES }, (request, body, done) => {
    const encoding = request.headers['content-encoding']?.trim().toLowerCase();
    if (encoding !== undefined && encoding !== '' && encoding !== 'identity') {
      done(new OfrepError('PARSE_ERROR', `Content-Encoding ${encoding} is not supported; send the JSON body uncompressed`), undefined);
      return;
    }
    const bytes = body as Buffer;
    if (bytes.length === 0) {
      done(new OfrepError('PARSE_ERROR', 'the request body is empty; send {"context": {…}}'), undefined);
      return;
    }
    let parsed: unknown;
    try {
      parsed = JSON.parse(utf8.decode(bytes));
    } catch (error) {
      done(new OfrepError('PARSE_ERROR', 'the request body is not valid UTF-8 JSON', { cause: error }), undefined);
      return;
    }
    done(null, parsed);
  });
};
