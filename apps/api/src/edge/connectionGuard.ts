import { createServer, type IncomingMessage, type RequestListener, type Server, type ServerOptions, type ServerResponse } from 'node:http';
import type { Socket } from 'node:net';
import type { Logger } from '@valhalla/core';
import type { FastifyInstance } from 'fastify';

/**
 * The bounds of one api instance's HTTP edge: what a client may make the server hold for it.
 *
 * Node answers pipelined HTTP/1.1 requests in order, but it parses and dispatches every request of a TCP chunk at
 * once (about a thousand small GETs per 64 KiB) and keeps each answer in memory until the ones before it were taken
 * by the client. A client that pipelines and never reads therefore made the server render and hold thousands of
 * answers: three connections took the api past its 160 MB heap in seconds. These bounds drop such a connection
 * instead of buffering for it.
 */
export type EdgeBounds = {
  /** Requests received on one connection and not yet answered in full; the next one drops the connection. */
  readonly maxPipelinedRequests: number;
  /** Answer bytes a connection may hold queued (its client is not reading) before a further answer drops it. */
  readonly maxQueuedBytesPerConnection: number;
  /** The same bound summed over every connection that is behind, so many slow connections cannot add up. */
  readonly maxQueuedBytesTotal: number;
  /** At shutdown, how long a request that is still being received may take to arrive before its connection is closed. */
  readonly shutdownReceiveGraceMs: number;
};

export const DEFAULT_EDGE_BOUNDS: EdgeBounds = {
  maxPipelinedRequests: 16,
  maxQueuedBytesPerConnection: 1024 * 1024,
  maxQueuedBytesTotal: 32 * 1024 * 1024,
  shutdownReceiveGraceMs: 2_000,
};

/** A request of a connection, from its headers until its answer was written in full (or the connection closed). */
type InFlight = { request: IncomingMessage; response: ServerResponse };

type Connection = {
  socket: Socket;
  inFlight: Set<InFlight>;
  /** The newest request: tells whether its answer went out while its body was still arriving. */
  newest: InFlight | null;
  dropped: boolean;
};

/** The options Fastify hands a serverFactory (its own, merged with defaults) that a plain HTTP/1.1 server needs. */
type FactoryOptions = {
  http?: ServerOptions | null;
  keepAliveTimeout?: number;
  requestTimeout?: number;
  maxRequestsPerSocket?: number;
};

export type ConnectionGuard = {
  /** Fastify's `serverFactory`: the HTTP/1.1 server, with every request passing the guard before it is routed. */
  serverFactory: (handler: RequestListener, options: FactoryOptions) => Server;
  /**
   * Whether an answer is already being written on this socket (a stream, or the answer to a request whose body is
   * still arriving): bytes written straight into the socket now would corrupt it.
   */
  responseStarted: (socket: Socket) => boolean;
  /**
   * Called before an answer of `bytes` is handed to its response on `socket` (the request's: a pipelined answer has
   * no socket of its own yet): drops the connection (and returns false) when its client is not taking its answers and
   * this one would pass the per-connection or the total bound.
   */
  admitAnswer: (socket: Socket, bytes: number) => boolean;
  /**
   * Shutdown: closes at once every connection whose request was answered while its body was still arriving, and
   * after the receive grace every connection that is still receiving a request (or holds none). Connections whose
   * request is being handled are left to finish within the drain deadline.
   */
  startDrain: () => void;
  /** Clears the drain timer (after the server closed). */
  stop: () => void;
};

/**
 * The guard of the api's HTTP/1.1 connections: a bound on pipelined requests and on answers queued for a client that
 * does not read (the connection is dropped, never buffered for), and the shutdown rule for connections whose request
 * is unfinished. The socket inactivity timeout (SOCKET_IDLE_TIMEOUT_MS) is Node's `server.setTimeout`, set in the
 * factory, so it covers a client that stops reading before any of this is reached.
 */
export const createConnectionGuard = (options: { bounds?: EdgeBounds; socketIdleTimeoutMs: number; logger: Logger }): ConnectionGuard => {
  const bounds = options.bounds ?? DEFAULT_EDGE_BOUNDS;
  const connections = new Map<Socket, Connection>();
  /** Connections that held queued answer bytes when they last answered: the only ones the total bound sums over. */
  const behind = new Set<Connection>();
  let drainTimer: NodeJS.Timeout | undefined;

  const connectionOf = (socket: Socket): Connection => {
    let connection = connections.get(socket);
    if (connection === undefined) {
      connection = { socket, inFlight: new Set(), newest: null, dropped: false };
      connections.set(socket, connection);
      const added = connection;
      socket.once('close', () => {
        connections.delete(socket);
        behind.delete(added);
      });
    }
    return connection;
  };

  const drop = (connection: Connection, why: string, details: Record<string, unknown> = {}): void => {
    if (!connection.dropped) {
      connection.dropped = true;
      options.logger.warn({ remoteAddress: connection.socket.remoteAddress, remotePort: connection.socket.remotePort, ...details }, `connection dropped: ${why}`);
    }
    behind.delete(connection);
    connection.socket.destroy();
  };

  /** Answer bytes waiting on a connection: in the socket's buffer, and in the answers queued behind the one it writes. */
  const queuedBytes = (connection: Connection): number => {
    let bytes = connection.socket.writableLength;
    // A pipelined answer waits in its response until the ones before it are written; the one being written (its
    // socket is set) has handed its bytes to the socket, counted above.
    for (const { response } of connection.inFlight) if (response.socket === null) bytes += response.writableLength;
    return bytes;
  };

  const guard = (handler: RequestListener): RequestListener => (request, response) => {
    const connection = connectionOf(request.socket);
    // Requests Node parsed from the rest of a chunk after the connection was dropped: nobody will read their answers.
    if (connection.dropped || request.socket.destroyed) return;
    if (connection.inFlight.size >= bounds.maxPipelinedRequests) {
      drop(connection, 'too many pipelined requests', { limit: bounds.maxPipelinedRequests });
      return;
    }
    const entry = { request, response };
    connection.inFlight.add(entry);
    connection.newest = entry;
    response.once('close', () => connection.inFlight.delete(entry));
    handler(request, response);
  };

  const answeredEarly = (connection: Connection): boolean => {
    const newest = connection.newest;
    return newest !== null && !newest.request.complete && (newest.response.writableEnded || !connection.inFlight.has(newest));
  };

  const sweep = (final: boolean): void => {
    for (const connection of connections.values()) {
      if (answeredEarly(connection)) {
        connection.socket.destroy();
        continue;
      }
      if (!final) continue;
      // Keep only connections with a request fully received and being answered: the drain waits for those.
      const handling = [...connection.inFlight].some(({ request }) => request.complete);
      if (!handling) connection.socket.destroy();
    }
  };

  return {
    serverFactory: (handler, factoryOptions) => {
      // What Fastify's own factory sets on an HTTP/1.1 server, which a serverFactory replaces.
      // requestTimeout goes in with the options: Node checks headersTimeout against it when the server is created.
      const server = createServer({ ...factoryOptions.http, ...(factoryOptions.requestTimeout === undefined ? {} : { requestTimeout: factoryOptions.requestTimeout }) }, guard(handler));
      if (factoryOptions.keepAliveTimeout !== undefined) server.keepAliveTimeout = factoryOptions.keepAliveTimeout;
      if (factoryOptions.requestTimeout !== undefined) server.requestTimeout = factoryOptions.requestTimeout;
      if (factoryOptions.maxRequestsPerSocket !== undefined && factoryOptions.maxRequestsPerSocket > 0) {
        server.maxRequestsPerSocket = factoryOptions.maxRequestsPerSocket;
      }
      // Inactivity: nothing read or written for this long while no request of the connection is being handled (idle
      // keep-alive connections use keepAliveTimeout instead).
      server.setTimeout(options.socketIdleTimeoutMs);
      server.on('timeout', (socket: Socket) => {
        const connection = connections.get(socket);
        // The server itself is still working on a request of this connection (waiting for PostgreSQL, say): its
        // slowness is not the client's, so the connection waits another period.
        if (connection !== undefined && !connection.dropped && [...connection.inFlight].some(({ request, response }) => request.complete && !response.headersSent)) {
          socket.setTimeout(options.socketIdleTimeoutMs);
          return;
        }
        const waiting = connection?.inFlight.size ?? 0;
        // Worth a line only when something was left undone: requests unanswered or answers the client never took.
        if (connection !== undefined && (waiting > 0 || socket.writableLength > 0)) {
          options.logger.info(
            { remoteAddress: socket.remoteAddress, remotePort: socket.remotePort, inFlight: waiting, queuedBytes: queuedBytes(connection) },
            'connection closed: idle past SOCKET_IDLE_TIMEOUT_MS',
          );
        }
        socket.destroy();
      });
      server.on('connection', (socket: Socket) => connectionOf(socket));
      return server;
    },
    responseStarted: (socket) => {
      const connection = connections.get(socket);
      if (connection === undefined) return false;
      return answeredEarly(connection) || [...connection.inFlight].some(({ response }) => response.headersSent);
    },
    admitAnswer: (socket, bytes) => {
      const connection = connections.get(socket);
      if (connection === undefined) return true;
      const queued = queuedBytes(connection);
      // A client that takes its answers holds nothing queued: its next answer goes out whatever its size.
      if (queued === 0) {
        behind.delete(connection);
        return true;
      }
      if (queued + bytes > bounds.maxQueuedBytesPerConnection) {
        drop(connection, 'the client does not read its answers', { queuedBytes: queued, limit: bounds.maxQueuedBytesPerConnection });
        return false;
      }
      let total = queued + bytes;
      for (const other of behind) if (other !== connection) total += queuedBytes(other);
      if (total > bounds.maxQueuedBytesTotal) {
        drop(connection, 'answers queued for clients that do not read exceed the total bound', { totalBytes: total, limit: bounds.maxQueuedBytesTotal });
        return false;
      }
      behind.add(connection);
      return true;
    },
    startDrain: () => {
      sweep(false);
      clearTimeout(drainTimer);
      drainTimer = setTimeout(() => sweep(true), bounds.shutdownReceiveGraceMs);
      drainTimer.unref();
    },
    stop: () => clearTimeout(drainTimer),
  };
};

const byteLength = (payload: unknown): number =>
  typeof payload === 'string' ? Buffer.byteLength(payload) : Buffer.isBuffer(payload) ? payload.length : 0;

/**
 * Wires the guard into the app: every answer passes `admitAnswer` before it is written (streamed files write with
 * back-pressure and count as 0 here), and shutdown starts the drain rule before the server closes.
 */
export const registerConnectionGuard = (app: FastifyInstance, guard: ConnectionGuard): void => {
  app.addHook('onSend', async (request, _reply, payload) => {
    guard.admitAnswer(request.raw.socket, byteLength(payload));
    return payload;
  });
  app.addHook('preClose', async () => guard.startDrain());
  app.addHook('onClose', async () => guard.stop());
};
