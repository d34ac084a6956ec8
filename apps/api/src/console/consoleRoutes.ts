import { fileURLToPath } from 'node:url';
import type { FastifyInstance, FastifyReply } from 'fastify';
import { sendError } from '../plugins/errorHandling.js';
import { loadConsoleFiles, type ConsoleFile } from './consoleFiles.js';

const CONSOLE_PREFIX = '/console';

/** apps/console/dist, from apps/api/src or apps/api/dist alike. */
const DEFAULT_CONSOLE_DIR = fileURLToPath(new URL('../../../console/dist/', import.meta.url));

/**
 * The console's pages may load scripts, styles, images and API calls from this origin only: no inline script or
 * style (Vite emits none), no framing, no plugins, forms only to this origin.
 */
const CONSOLE_CSP = [
  "default-src 'none'",
  "script-src 'self'",
  "style-src 'self'",
  "img-src 'self' data:",
  "font-src 'self'",
  "connect-src 'self'",
  "base-uri 'none'",
  "form-action 'self'",
  "frame-ancestors 'none'",
  "object-src 'none'",
].join('; ');

const securityHeaders = (reply: FastifyReply): FastifyReply =>
  reply
    .header('content-security-policy', CONSOLE_CSP)
    .header('x-content-type-options', 'nosniff')
    .header('referrer-policy', 'no-referrer')
    .header('x-frame-options', 'DENY')
    .header('cross-origin-opener-policy', 'same-origin');

const send = (reply: FastifyReply, file: ConsoleFile, ifNoneMatch: string | undefined, head: boolean): FastifyReply => {
  securityHeaders(reply)
    .header('etag', file.etag)
    .header('cache-control', file.immutable ? 'public, max-age=31536000, immutable' : 'no-cache')
    .type(file.contentType);
  if (ifNoneMatch === file.etag) return reply.code(304).send();
  return reply.send(head ? undefined : file.body);
};

/**
 * The console at /console/ (built static files, read once at startup) and `/` redirecting to it. Public like the
 * sign-in page of any console: every API call the page makes is authenticated. When the console is not built, its
 * URLs answer 404 NOT_FOUND saying so.
 */
export const consoleRoutes = async (app: FastifyInstance, options: { dir?: string } = {}): Promise<void> => {
  const files = loadConsoleFiles(options.dir ?? DEFAULT_CONSOLE_DIR);
  const hidden = { schema: { hide: true } };

  app.get('/', hidden, async (_request, reply) => reply.redirect(`${CONSOLE_PREFIX}/`, 302));
  app.get(CONSOLE_PREFIX, hidden, async (_request, reply) => reply.redirect(`${CONSOLE_PREFIX}/`, 301));
  app.get(`${CONSOLE_PREFIX}/*`, hidden, async (request, reply) => {
    const path = (request.params as { '*': string })['*'];
    if (files === null) return sendError(reply, { code: 'NOT_FOUND', message: 'the console is not built on this server (npm run build)' });
    const file = files.get(path);
    if (file === undefined) return sendError(reply, { code: 'NOT_FOUND', message: `no console file ${CONSOLE_PREFIX}/${path}` });
    return send(reply, file, request.headers['if-none-match'], request.method === 'HEAD');
  });
};
