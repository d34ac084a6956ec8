import pg from 'pg';
import type { Logger } from '../../logger/index.js';
import { LIVE_STATE_CHANNEL, LIVE_STATE_QUERY, parseLiveState, type LiveState } from './liveState.js';

export type LiveStateListenerOptions = {
  databaseUrl: string;
  /** Reads the state without the listener (the api's pool): used while the listener is down. */
  fallbackRead: () => Promise<LiveState | null>;
  /** While the listener is down, the state is read at least this often, and never served older unless reads fail. */
  fallbackMaxAgeMs: number;
  logger: Logger;
  applicationName?: string;
  /** Reconnect backoff: doubles from the first delay up to the cap, each delay with ±50 % jitter. */
  reconnectInitialMs?: number;
  reconnectMaxMs?: number;
  /** A listening connection is probed this often, so a half-open TCP connection is noticed and replaced. */
  pingIntervalMs?: number;
};

export type FreshLiveState = { state: LiveState; ageMs: number };

/**
 * The api's in-memory live state, kept current by a dedicated `LISTEN` connection (a plain `pg` client, outside the
 * pool, because a pooled connection would be handed back and lose its LISTEN).
 */
export type LiveStateListener = {
  /** The latest state this process knows; undefined before the first read. */
  current(): LiveState | undefined;
  /** True while the LISTEN connection is up: the snapshot is then current to within the notification delay. */
  isListening(): boolean;
  /**
   * How long ago the snapshot was last known to be current: 0 while listening, else the time since the listener
   * dropped or the last fallback read succeeded; Infinity before the first state.
   */
  ageMs(): number;
  /**
   * The snapshot when listening or younger than fallbackMaxAgeMs; otherwise a read through fallbackRead (one at a
   * time, shared by concurrent callers). When that read fails, the last known state with its age.
   * @throws the read's error when no state was ever read.
   */
  fresh(): Promise<FreshLiveState>;
  /** Calls `fn` after every change of the state (body or entity tag), in commit order. Returns the unsubscribe. */
  onChange(fn: (state: LiveState) => void): () => void;
  /** The LISTEN connection's server process id (tests terminate it), undefined while disconnected. */
  backendPid(): number | undefined;
  /** Resolves once the first state is known (bounded by the caller). */
  ready(): Promise<void>;
  /** Ends the connection and the timers; idempotent. */
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

/** Starts listening at once. Every state change, from a notification or a read, is applied in the order it is learnt. */
export const createLiveStateListener = (options: LiveStateListenerOptions): LiveStateListener => {
  const { logger } = options;
  const initialMs = options.reconnectInitialMs ?? 100;
  const maxMs = options.reconnectMaxMs ?? 5_000;
  const pingIntervalMs = options.pingIntervalMs ?? 10_000;
  const stop = new AbortController();
  const subscribers = new Set<(state: LiveState) => void>();
  let state: LiveState | undefined;
  /** When the snapshot was last known to be current (while listening it stays current until the connection drops). */
  let confirmedAt = 0;
  let listening = false;
  /** Incremented whenever listening starts: a fallback read begun before then must not overwrite newer state. */
  let generation = 0;
  let client: pg.Client | undefined;
  let pid: number | undefined;
  let fallbackRead: Promise<void> | undefined;
  let fallbackTimer: NodeJS.Timeout | undefined;
  let resolveReady: () => void = () => {};
  const readyPromise = new Promise<void>((resolve) => {
    resolveReady = resolve;
  });

  const apply = (next: LiveState) => {
    confirmedAt = Date.now();
    if (stop.signal.aborted) return;
    const changed = state === undefined || state.json !== next.json || state.etag !== next.etag;
    state = next;
    resolveReady();
    if (!changed) return;
    for (const fn of subscribers) {
      try {
        fn(next);
      } catch (error) {
        logger.error({ err: error }, 'live state subscriber failed');
      }
    }
  };

  const readThroughFallback = (): Promise<void> => {
    fallbackRead ??= (async () => {
      const startedIn = generation;
      try {
        const read = await options.fallbackRead();
        // A read that began before the listener came back may be older than what it has applied since.
        if (read !== null && !listening && startedIn === generation) apply(read);
      } finally {
        fallbackRead = undefined;
      }
    })();
    return fallbackRead;
  };

  const startFallbackPolling = () => {
    if (fallbackTimer !== undefined || stop.signal.aborted) return;
    fallbackTimer = setInterval(() => {
      readThroughFallback().catch((error: unknown) => logger.debug({ err: error }, 'live state fallback read failed'));
    }, options.fallbackMaxAgeMs);
    fallbackTimer.unref();
  };
  const stopFallbackPolling = () => {
    if (fallbackTimer !== undefined) clearInterval(fallbackTimer);
    fallbackTimer = undefined;
  };

  /** One connection's life: connect, LISTEN, read, then apply notifications in order until it ends. */
  const listenOnce = async (): Promise<void> => {
    const connection = new pg.Client({
      connectionString: options.databaseUrl,
      application_name: options.applicationName ?? 'valhalla-live-listener',
      keepAlive: true,
      connectionTimeoutMillis: 5_000,
    });
    client = connection;
    // Notifications and reads are handled one after another, in arrival order.
    let queue: Promise<void> = Promise.resolve();
    const enqueue = (task: () => Promise<void>) => {
      queue = queue.then(task).catch((error: unknown) => {
        logger.warn({ err: error }, 'live state update failed; reconnecting');
        connection.end().catch(() => {});
      });
    };
    const readOnConnection = async () => {
      const result = await connection.query<{ state: string | null }>(LIVE_STATE_QUERY);
      const text = result.rows[0]?.state;
      if (text !== null && text !== undefined) apply(parseLiveState(text));
    };
    const ended = new Promise<void>((resolve) => {
      stop.signal.addEventListener('abort', () => resolve(), { once: true });
      connection.once('end', () => resolve());
      connection.on('error', (error) => {
        logger.warn({ err: error }, 'live state listener connection failed');
        resolve();
      });
    });
    connection.on('notification', (message) => {
      if (message.channel !== LIVE_STATE_CHANNEL) return;
      const payload = message.payload ?? '';
      enqueue(async () => {
        if (payload === '') await readOnConnection();
        else apply(parseLiveState(payload));
      });
    });
    let ping: NodeJS.Timeout | undefined;
    try {
      await connection.connect();
      await connection.query(`LISTEN ${LIVE_STATE_CHANNEL}`);
      pid = (await connection.query<{ pid: number }>('SELECT pg_backend_pid() AS pid')).rows[0]?.pid;
      // Read after LISTEN: a commit before the read is in it, one after it is notified, so nothing falls between.
      enqueue(readOnConnection);
      await queue;
      if (stop.signal.aborted) return;
      generation += 1;
      listening = true;
      stopFallbackPolling();
      logger.info({ pid }, 'live state listener connected');
      ping = setInterval(() => {
        const probe = connection.query('SELECT 1');
        const timeout = setTimeout(() => {
          logger.warn('live state listener did not answer a probe; reconnecting');
          destroySocket(connection);
        }, Math.min(5_000, pingIntervalMs));
        probe.then(() => clearTimeout(timeout), () => clearTimeout(timeout));
      }, pingIntervalMs);
      ping.unref();
      await ended;
    } catch (error) {
      logger.warn({ err: error }, 'live state listener could not connect');
    } finally {
      if (ping !== undefined) clearInterval(ping);
      if (listening) confirmedAt = Date.now();
      listening = false;
      pid = undefined;
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
      startFallbackPolling();
      // A connection that lived a while starts the backoff over; one that failed at once backs off further.
      attempt = Date.now() - started > maxMs ? 0 : attempt + 1;
      const base = Math.min(maxMs, initialMs * 2 ** Math.max(0, attempt - 1));
      await sleep(base * (0.5 + Math.random()), stop.signal);
    }
  };
  const running = run();
  startFallbackPolling();

  return {
    current: () => state,
    isListening: () => listening,
    ageMs: () => (state === undefined ? Infinity : listening ? 0 : Date.now() - confirmedAt),
    backendPid: () => pid,
    ready: () => readyPromise,
    onChange: (fn) => {
      subscribers.add(fn);
      return () => subscribers.delete(fn);
    },
    fresh: async () => {
      if (state !== undefined && (listening || Date.now() - confirmedAt <= options.fallbackMaxAgeMs)) {
        return { state, ageMs: listening ? 0 : Date.now() - confirmedAt };
      }
      try {
        await readThroughFallback();
      } catch (error) {
        if (state === undefined) throw error;
      }
      if (state === undefined) throw new Error('the live state has not been read yet');
      return { state, ageMs: listening ? 0 : Date.now() - confirmedAt };
    },
    close: async () => {
      if (!stop.signal.aborted) {
        stop.abort();
        stopFallbackPolling();
        if (client !== undefined) destroySocket(client);
      }
      await running;
    },
  };
};
