import { startTcpProxy, type TcpProxy } from '../../api/tcpProxy.js';

/**
 * One product process's way to PostgreSQL: a TCP proxy of the suite's, on a port that stays the same across cuts, so
 * the database can be taken from this process alone (or, cutting every link, from all of them) and given back.
 */
export type DatabaseLink = {
  readonly port: number;
  isCut: () => boolean;
  /** Drops every connection and refuses new ones. */
  cut: () => Promise<void>;
  /** Accepts connections again, on the same port. */
  restore: () => Promise<void>;
  close: () => Promise<void>;
};

/** A link listening on `port` (one that stays free for it: see pickStablePort). */
export const openDatabaseLink = async (server: { host: string; port: number }, port: number): Promise<DatabaseLink> => {
  let proxy: TcpProxy = await startTcpProxy(server, port);
  let isCut = false;
  return {
    port,
    isCut: () => isCut,
    cut: async () => {
      isCut = true;
      await proxy.cut();
    },
    restore: async () => {
      if (!isCut) return;
      proxy = await startTcpProxy(server, port);
      isCut = false;
    },
    close: async () => {
      isCut = true;
      await proxy.cut();
    },
  };
};
