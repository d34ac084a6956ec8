import type { FastifyInstance } from 'fastify';
import { sendError } from './errorHandling.js';

/**
 * While the server drains (from `app.close()` on), new requests that still arrive (pipelined, or on a kept-alive
 * connection) get 503 SHUTTING_DOWN in the contract's error shape and `Connection: close`; in-flight requests finish.
 * Fastify's own return503OnClosing answers with a body of another shape, so it is turned off in server.ts.
 */
export const registerShutdownGuard = (app: FastifyInstance): void => {
  let closing = false;
  app.addHook('preClose', async () => {
    closing = true;
  });
  // In-flight requests that finish during the drain close their connection, so keep-alive clients reconnect elsewhere.
  app.addHook('onSend', async (_request, reply, payload) => {
    if (closing) reply.header('Connection', 'close');
    return payload;
  });
  app.addHook('onRequest', async (_request, reply) => {
    if (!closing) return;
    reply.header('Connection', 'close');
    return sendError(reply, { code: 'SHUTTING_DOWN', message: 'the server is shutting down; retry on another instance' });
  });
};
