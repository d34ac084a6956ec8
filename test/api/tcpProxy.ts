import { startTcpProxy as startProxy, type TcpProxy } from '../../bench/lib/tcpProxy.js';
import { track } from '../helpers/leaks.js';

export type { TcpProxy };

/** A TCP proxy on 127.0.0.1 to `target` (see bench/lib/tcpProxy.ts), registered with the leak guard. */
export const startTcpProxy = async (target: { host: string; port: number }, listenPort = 0): Promise<TcpProxy> => {
  const proxy = await startProxy(target, listenPort);
  return track(proxy, { description: `tcp proxy to ${target.host}:${target.port}`, isOpen: proxy.isListening, close: proxy.cut });
};
