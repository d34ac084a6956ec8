/**
 * A TCP proxy on 127.0.0.1, so one client (a bench step's api and worker, a test's process) can lose a dependency
 * without anyone else losing it. Used by the bench and, through test/api/tcpProxy.ts, by the tests; it imports nothing
 * of ours so that both can load it.
 */
import { connect, createServer, type Socket } from 'node:net';

export type TcpProxy = {
  port: number;
  /** Cuts every connection and refuses new ones (a dependency going down). */
  cut: () => Promise<void>;
  /**
   * Stops passing bytes, closing nothing, and holds new connections unanswered (a partition or a frozen server: no
   * error ever reaches the client). `cut` ends it.
   */
  silence: () => void;
  isListening: () => boolean;
};

/** A proxy to `target` listening on `listenPort` (0: a free port). To restore a cut one, start another on its port. */
export const startTcpProxy = async (target: { host: string; port: number }, listenPort = 0): Promise<TcpProxy> => {
  const sockets = new Set<Socket>();
  const pairs = new Set<[Socket, Socket]>();
  let silent = false;
  const server = createServer((client) => {
    if (silent) {
      sockets.add(client);
      client.on('error', () => {});
      client.on('close', () => sockets.delete(client));
      return;
    }
    const upstream = connect(target);
    const pair: [Socket, Socket] = [client, upstream];
    pairs.add(pair);
    upstream.on('close', () => pairs.delete(pair));
    for (const socket of pair) {
      sockets.add(socket);
      socket.on('error', () => {});
      socket.on('close', (hadError) => {
        sockets.delete(socket);
        // A side that ends cleanly is passed on by pipe (its last bytes, then FIN). One that breaks (a reset, a
        // refused connection) must break the other too: pipe does not pass errors on, and the other end would wait
        // on a connection that is gone (a client for an answer that never comes, a server session never closed).
        if (hadError) for (const other of pair) if (other !== socket) other.destroy();
      });
    }
    client.pipe(upstream).pipe(client);
  });
  await new Promise<void>((resolve) => server.listen(listenPort, '127.0.0.1', resolve));
  const address = server.address();
  if (address === null || typeof address !== 'object') throw new Error('proxy has no port');
  const cut = () =>
    new Promise<void>((resolve) => {
      if (!server.listening) return resolve();
      server.close(() => resolve());
      for (const socket of sockets) socket.destroy();
    });
  const silence = () => {
    silent = true;
    for (const [client, upstream] of pairs) {
      client.unpipe(upstream);
      upstream.unpipe(client);
      client.pause();
      upstream.pause();
    }
  };
  return { port: address.port, cut, silence, isListening: () => server.listening };
};
