import { connect, createServer, type Socket } from 'node:net';
import { track } from '../helpers/leaks.js';

export type TcpProxy = { port: number; /** Cuts every connection and refuses new ones (a dependency going down). */ cut: () => Promise<void> };

/** A TCP proxy on 127.0.0.1 to `target`, so a test can take a dependency away from one client only. */
export const startTcpProxy = async (target: { host: string; port: number }, listenPort = 0): Promise<TcpProxy> => {
  const sockets = new Set<Socket>();
  const server = createServer((client) => {
    const upstream = connect(target);
    const pair = [client, upstream];
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
  return track({ port: address.port, cut }, { description: `tcp proxy to ${target.host}:${target.port}`, isOpen: () => server.listening, close: cut });
};
