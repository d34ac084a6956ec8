import { pino, type Logger, type LoggerOptions } from 'pino';
import { redactUrl } from './redactUrl.js';

export type { Logger } from 'pino';

const REDACTED_PATHS = [
  'req.headers.authorization',
  'req.headers.cookie',
  'req.headers["x-csrf-token"]',
  'headers.authorization',
  'headers.cookie',
  'headers["x-csrf-token"]',
  'res.headers["set-cookie"]',
  'token',
  '*.token',
  '*.*.token',
  'body.token',
  'err.rawPacket',
  '*.rawPacket',
] as const;

/** Fastify's request serializer with the query string's values redacted (see redactUrl). No headers. */
const requestSerializer = (request: {
  method?: string;
  url?: string;
  headers?: Record<string, unknown>;
  host?: string;
  ip?: string;
  socket?: { remotePort?: number };
}) => ({
  method: request.method,
  url: request.url === undefined ? undefined : redactUrl(request.url),
  host: request.host,
  remoteAddress: request.ip,
  remotePort: request.socket?.remotePort,
});

/**
 * pino logger: JSON lines in production and tests (machines read them), pretty output in development when the
 * output is a terminal. Child loggers carry `requestId` / `jobId` bindings.
 */
export const createLogger = (options: {
  name: string;
  level: string;
  pretty?: boolean;
  bindings?: Record<string, unknown>;
  destination?: NodeJS.WritableStream;
}): Logger => {
  const base: LoggerOptions = {
    name: options.name,
    level: options.level,
    base: { pid: process.pid, ...options.bindings },
    timestamp: pino.stdTimeFunctions.isoTime,
    // Credentials never reach a log line, whatever the level: bearer tokens and session cookies in headers, tokens in
    // bodies or objects, the raw bytes of a malformed request (Node's clientError carries them), and query values.
    redact: { paths: [...REDACTED_PATHS], censor: '[redacted]' },
    serializers: { req: requestSerializer },
  };
  if (options.pretty === true) {
    return pino({ ...base, transport: { target: 'pino-pretty', options: { colorize: true, translateTime: 'SYS:HH:MM:ss.l' } } });
  }
  return options.destination === undefined ? pino(base) : pino(base, options.destination as pino.DestinationStream);
};
