import pg from 'pg';
import type { Logger } from '../logger/index.js';

export type ChannelListener = {
  /** True while the LISTEN connection is up. */
  isListening(): boolean;
  /** Ends the connection and its timers; idempotent. */
  close(): Promise<void>;
};

const sleep = (ms: number, signal: AbortSignal) =>
  new Promise<void>((resolve) => {
    const timer = setTimeout(resolve, ms);
    signal.addEventListener('abort', () => {
      clearTimeout(timer);
      resolve();
    }, { once: true });
  });

/** Drops a client's socket: `end()` waits for the server, and on a connection still being made may never settle. */
const destroySocket = (client: pg.Client) => {
  (client as unknown as { connection?: { stream?: { destroy(): void } } }).connection?.stream?.destroy();
};

/**
 * LISTENs on `channel` over a dedicated connection (a pooled one would be handed back and lose its LISTEN), calling
 * `onNotify` for every notification and `onConnected` each time listening (re)starts: a notification sent while the
 * connection was down is lost, so the caller then looks for itself. Reconnects with capped, jittered backoff; a
 * connection is probed every `pingIntervalMs`, so a half-open TCP connection is noticed and replaced.
 * @param options.channel a plain identifier (it is written into the LISTEN statement).
 */
export const listenChannel = (options: {
  databaseUrl: string;
  channel: string;
  applicationName: string;
  /** Called with each notification's payload ('' when it had none). */
  onNotify: (payload: string) => void;
  onConnected: () => void;
  logger: Logger;
  reconnectInitialMs?: number;
  reconnectMaxMs?: number;
  pingIntervalMs?: number;
}): ChannelListener => {
  if (!/^[a-z_][a-z0-9_]*$/.test(options.channel)) throw new Error(`not a channel identifier: ${options.channel}`);
  const { logger } = options;
  const initialMs = options.reconnectInitialMs ?? 100;
  const maxMs = options.reconnectMaxMs ?? 5_000;
  const pingIntervalMs = options.pingIntervalMs ?? 10_000;
  const stop = new AbortController();
  let listening = false;
  let client: pg.Client | undefined;

  const listenOnce = async (): Promise<void> => {
    const connection = new pg.Client({
      connectionString: options.databaseUrl,
      application_name: options.applicationName,
      keepAlive: true,
      connectionTimeoutMillis: 5_000,
    });
    client = connection;
    const ended = new Promise<void>((resolve) => {
      stop.signal.addEventListener('abort', () => resolve(), { once: true });
      connection.once('end', () => resolve());
      connection.on('error', (error) => {
        logger.warn({ err: error, channel: options.channel }, 'listen connection failed');
        resolve();
      });
    });
    connection.on('notification', (message) => {
      if (message.channel === options.channel) options.onNotify(message.payload ?? '');
    });
    let ping: NodeJS.Timeout | undefined;
    try {
      await connection.connect();
      await connection.query(`LISTEN ${options.channel}`);
      if (stop.signal.aborted) return;
      listening = true;
      options.onConnected();
      ping = setInterval(() => {
        const probe = connection.query('SELECT 1');
        const timeout = setTimeout(() => {
          logger.warn({ channel: options.channel }, 'listen connection did not answer a probe; reconnecting');
          destroySocket(connection);
        }, Math.min(5_000, pingIntervalMs));
        probe.then(() => clearTimeout(timeout), () => clearTimeout(timeout));
      }, pingIntervalMs);
      ping.unref();
      await ended;
    } catch (error) {
      logger.warn({ err: error, channel: options.channel }, 'listen connection could not connect');
    } finally {
      if (ping !== undefined) clearInterval(ping);
      listening = false;
      const closing = connection.end().catch(() => {});
      if (stop.signal.aborted) destroySocket(connection);
      await closing;
    }
  };

  const run = async () => {
    let attempt = 0;
    while (!stop.signal.aborted) {
      const started = Date.now();
      await listenOnce();
      if (stop.signal.aborted) break;
      // A connection that lived a while starts the backoff over; one that failed at once backs off further.
      attempt = Date.now() - started > maxMs ? 0 : attempt + 1;
      const base = Math.min(maxMs, initialMs * 2 ** Math.max(0, attempt - 1));
      await sleep(base * (0.5 + Math.random()), stop.signal);
    }
  };
  const running = run();

  return {
    isListening: () => listening,
    close: async () => {
      if (!stop.signal.aborted) {
        stop.abort();
        if (client !== undefined) destroySocket(client);
      }
      await running;
    },
  };
};
