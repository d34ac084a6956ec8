import { pino, type Logger, type LoggerOptions } from 'pino';

export type { Logger } from 'pino';

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
    redact: { paths: ['req.headers.authorization', 'headers.authorization', '*.token'], censor: '[redacted]' },
  };
  if (options.pretty === true) {
    return pino({ ...base, transport: { target: 'pino-pretty', options: { colorize: true, translateTime: 'SYS:HH:MM:ss.l' } } });
  }
  return options.destination === undefined ? pino(base) : pino(base, options.destination as pino.DestinationStream);
};
