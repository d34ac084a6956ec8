import type { OutgoingHttpHeaders, ServerResponse } from 'node:http';
import type { LiveState, LiveStateListener, Logger } from '@valhalla/core';
import { ApiError } from '../errors.js';

export type LiveStreamsOptions = {
  listener: LiveStateListener;
  logger: Logger;
  heartbeatMs: number;
  streamsPerToken: number;
  /**
   * A heartbeat vouches for the state: it is sent only while the snapshot was known to be current at most this long
   * ago (listening, or a recent fallback read). Past it the instance falls silent, so clients see their state age.
   */
  heartbeatMaxStateAgeMs: number;
  /**
   * Of the given session ids, the ones still live (in PostgreSQL, so a logout on another instance counts). Asked at
   * each heartbeat tick for the streams opened with a session cookie; those whose session is gone are ended.
   */
  liveSessions?: (ids: readonly string[]) => Promise<ReadonlySet<string>>;
};

/** The session a stream was opened with (a console's cookie): the stream ends when the session does. */
type StreamSession = { id: string; expiresAt: string };

/** A client whose socket holds more unsent bytes than this is not reading: it is dropped rather than buffered. */
const MAX_BUFFERED_BYTES = 256 * 1024;

/** The end of an HTTP/1.1 chunk, after its bytes. */
const CHUNK_END = Buffer.from('\r\n', 'latin1');

/** Headers that keep proxies (nginx, Render's, CDNs) from buffering or compressing the stream. */
const STREAM_HEADERS = {
  'Content-Type': 'text/event-stream; charset=utf-8',
  'Cache-Control': 'no-cache, no-transform',
  'X-Accel-Buffering': 'no',
  'Content-Encoding': 'identity',
  Connection: 'keep-alive',
} as const;

/**
 * Who a stream is for: `full` (operators, readers) sees `changed_by` and `reason`, `app` sees them null, as on
 * `GET /live` (LiveState.appJson).
 */
type StreamAudience = 'full' | 'app';

/** One Server-Sent Event for a state: `event: state`, `id: <etag>`, `data: <the /live body for the audience>`. */
const stateEvent = (state: LiveState, audience: StreamAudience): string =>
  `event: state\nid: ${state.etag}\ndata: ${audience === 'full' ? state.json : state.appJson}\n\n`;

type Stream = {
  tokenId: string;
  audience: StreamAudience;
  response: ServerResponse;
  session: StreamSession | null;
  expiry: NodeJS.Timeout | undefined;
};

export type LiveStreams = {
  /**
   * Admits a stream for a token, or throws before anything is written.
   * @throws ApiError SHUTTING_DOWN once closing; RATE_LIMITED when the token has its limit of open streams.
   */
  admit(tokenId: string): void;
  /**
   * Starts the stream on an admitted request's raw response: headers, then the current state unless the client's
   * Last-Event-ID already names it, then every change and a heartbeat comment.
   */
  open(
    tokenId: string,
    response: ServerResponse,
    options: {
      state: LiveState;
      lastEventId: string | undefined;
      headers: OutgoingHttpHeaders;
      audience: StreamAudience;
      session: StreamSession | null;
    },
  ): void;
  /** Ends the streams opened with this session (its logout on this instance). */
  endSession(sessionId: string): void;
  /** Open streams (all tokens). */
  count(): number;
  /** Ends every stream and refuses new ones; idempotent. Run before the server drains, so it is not held open. */
  close(): void;
};

/**
 * The api's change streams: one subscription to the listener, fanned out to every open response. A stream opened with
 * a session cookie lives no longer than its session: it ends at the session's expiry, at its logout on this instance
 * at once, and at its logout on another instance by the next heartbeat tick (the sessions are checked in PostgreSQL
 * then). A stream opened with a bearer token lives as long as the token is configured, i.e. until this process stops.
 */
export const createLiveStreams = (options: LiveStreamsOptions): LiveStreams => {
  const streams = new Set<Stream>();
  const perToken = new Map<string, number>();
  let closed = false;
  let checkingSessions = false;

  const remove = (stream: Stream) => {
    if (!streams.delete(stream)) return;
    clearTimeout(stream.expiry);
    const left = (perToken.get(stream.tokenId) ?? 1) - 1;
    if (left === 0) perToken.delete(stream.tokenId);
    else perToken.set(stream.tokenId, left);
  };

  /** Ends a stream properly (the client sees the end, reconnects, and is then asked to sign in again). */
  const end = (stream: Stream, why: string) => {
    options.logger.info({ tokenId: stream.tokenId }, `live stream ended: ${why}`);
    remove(stream);
    stream.response.end();
  };

  const checkSessions = async () => {
    const bound = [...streams].filter((stream) => stream.session !== null);
    if (bound.length === 0 || options.liveSessions === undefined || checkingSessions) return;
    checkingSessions = true;
    try {
      const live = await options.liveSessions([...new Set(bound.map((stream) => (stream.session as StreamSession).id))]);
      for (const stream of bound) if (streams.has(stream) && !live.has((stream.session as StreamSession).id)) end(stream, 'its session was signed out');
    } catch (error) {
      // PostgreSQL unreachable: the sessions cannot be checked now; the next tick asks again.
      options.logger.debug({ err: error }, 'could not check the sessions of open streams');
    } finally {
      checkingSessions = false;
    }
  };

  /**
   * Each audience's bytes are encoded once, when the first stream of that audience needs them, not once per stream
   * (10,000 streams are 10,000 writes of the same bytes), and framed once as an HTTP/1.1 chunk. They are written to
   * the socket itself: `response.write` would frame every write again (three buffers and a cork per write, flushed a
   * tick later), which doubled the api's CPU per change with 10,000 streams. A client that came over HTTP/1.0 has no
   * chunked framing (its body ends when the connection does) and gets the bare bytes.
   */
  const broadcast = (textFor: (audience: StreamAudience) => string) => {
    const encoded: Partial<Record<StreamAudience, { framed: Buffer; bare: Buffer }>> = {};
    const bytesFor = (audience: StreamAudience) => {
      const known = encoded[audience];
      if (known !== undefined) return known;
      const bare = Buffer.from(textFor(audience), 'utf8');
      const framed = Buffer.concat([Buffer.from(`${bare.length.toString(16)}\r\n`, 'latin1'), bare, CHUNK_END]);
      return (encoded[audience] = { framed, bare });
    };
    for (const stream of streams) {
      const socket = stream.response.socket;
      if (socket === null || socket.destroyed) {
        remove(stream);
        continue;
      }
      if (socket.writableLength > MAX_BUFFERED_BYTES) {
        options.logger.warn({ tokenId: stream.tokenId }, 'live stream client is not reading; dropping it');
        stream.response.destroy();
        remove(stream);
        continue;
      }
      const bytes = bytesFor(stream.audience);
      socket.write(stream.response.chunkedEncoding ? bytes.framed : bytes.bare);
    }
  };

  const unsubscribe = options.listener.onChange((state) => broadcast((audience) => stateEvent(state, audience)));
  // Clients count a heartbeat as the api vouching for their state (its age restarts): an instance that cannot read
  // PostgreSQL any more must not keep saying so.
  const heartbeat = setInterval(() => {
    if (options.listener.ageMs() <= options.heartbeatMaxStateAgeMs) broadcast(() => ': heartbeat\n\n');
    void checkSessions();
  }, options.heartbeatMs);
  heartbeat.unref();

  return {
    admit: (tokenId) => {
      if (closed) throw new ApiError('SHUTTING_DOWN', 'the server is shutting down; reconnect to another instance');
      if ((perToken.get(tokenId) ?? 0) >= options.streamsPerToken) {
        throw new ApiError(
          'RATE_LIMITED',
          `this token already has ${options.streamsPerToken} open streams (LIVE_STREAMS_PER_TOKEN); close one first`,
        );
      }
    },
    open: (tokenId, response, { state: readState, lastEventId, headers, audience, session }) => {
      // The listener's state, not the one read before an await: a change in between was broadcast without this stream.
      const state = options.listener.current() ?? readState;
      // A client gone while the state was read: its 'close' has fired already and would never remove it.
      if (response.destroyed || response.socket === null || response.socket.destroyed) return;
      const stream: Stream = { tokenId, audience, response, session, expiry: undefined };
      if (session !== null) {
        // setTimeout takes at most 2^31-1 ms (24.8 days); sessions last hours.
        const left = Math.min(Math.max(0, Date.parse(session.expiresAt) - Date.now()), 2 ** 31 - 1);
        stream.expiry = setTimeout(() => end(stream, 'its session expired'), left);
        stream.expiry.unref();
      }
      streams.add(stream);
      perToken.set(tokenId, (perToken.get(tokenId) ?? 0) + 1);
      response.on('close', () => remove(stream));
      // Headers set by hooks (request id, CORS) stay; the stream's own win.
      response.writeHead(200, { ...headers, ...STREAM_HEADERS });
      // retry: how long EventSource clients wait before reconnecting after the stream ends.
      let head = 'retry: 1000\n\n';
      // A client that resumes with the current id has missed nothing; any other id gets the current state at once.
      if (lastEventId !== state.etag) head += stateEvent(state, audience);
      response.write(head);
      // The socket is written as soon as possible: no Nagle delay between a commit and the client.
      response.socket?.setNoDelay(true);
    },
    endSession: (sessionId) => {
      for (const stream of streams) if (stream.session?.id === sessionId) end(stream, 'its session was signed out');
    },
    count: () => streams.size,
    close: () => {
      if (closed) return;
      closed = true;
      clearInterval(heartbeat);
      unsubscribe();
      for (const stream of streams) {
        clearTimeout(stream.expiry);
        stream.response.end();
      }
      streams.clear();
      perToken.clear();
    },
  };
};
