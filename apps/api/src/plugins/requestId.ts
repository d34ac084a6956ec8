import { randomUUID } from 'node:crypto';
import type { IncomingMessage } from 'node:http';
import type { FastifyInstance } from 'fastify';

/** An `X-Request-Id` from a client or proxy is kept when it is short and plain; anything else is replaced. */
const WELL_FORMED = /^[A-Za-z0-9._:-]{1,128}$/;

/** Fastify's genReqId: the caller's X-Request-Id when well-formed, else a fresh uuid. */
export const requestIdFor = (request: IncomingMessage): string => {
  const header = request.headers['x-request-id'];
  return typeof header === 'string' && WELL_FORMED.test(header) ? header : randomUUID();
};

/** Echoes the request id on every response, so a client can quote it and find the log lines. */
export const registerRequestIdHeader = (app: FastifyInstance): void => {
  app.addHook('onSend', async (request, reply, payload) => {
    reply.header('X-Request-Id', request.id);
    return payload;
  });
};
