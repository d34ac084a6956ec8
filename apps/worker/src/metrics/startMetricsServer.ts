import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import type { Logger } from '@valhalla/core';
import type { Registry } from 'prom-client';

export type MetricsServer = {
  /** The bound port (the one asked for, or the kernel's choice for port 0). */
  readonly port: number;
  /** Stops listening and drops open connections (a scraper's keep-alive socket must not hold the shutdown). */
  close(): Promise<void>;
};

/** The log message naming the bound port; tests and operators read `port` from it. */
export const METRICS_LISTENING_MESSAGE = 'metrics listening';

/**
 * Serves `GET /metrics` (Prometheus text format) from `registry` on a plain node:http listener. Anything else is 404;
 * a failed collection is 500 (the scrape-time gauges catch their own source failures, so that means a bug).
 * @throws the listen error (EADDRINUSE, EACCES).
 */
export const startMetricsServer = async (options: { registry: Registry; host: string; port: number; log: Logger }): Promise<MetricsServer> => {
  const { registry, log } = options;
  const server: Server = createServer((request, response) => {
    const path = (request.url ?? '/').split('?')[0];
    if (path !== '/metrics' || (request.method !== 'GET' && request.method !== 'HEAD')) {
      response.writeHead(404, { 'content-type': 'text/plain; charset=utf-8' }).end('not found\n');
      return;
    }
    registry.metrics().then(
      (text) => {
        response.writeHead(200, { 'content-type': registry.contentType });
        response.end(request.method === 'HEAD' ? undefined : text);
      },
      (err: unknown) => {
        log.error({ err }, 'metrics collection failed');
        response.writeHead(500, { 'content-type': 'text/plain; charset=utf-8' }).end('metrics collection failed\n');
      },
    );
  });
  // Scrapers are internal; keep-alive sockets idle longer than this are not worth holding.
  server.keepAliveTimeout = 5_000;
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(options.port, options.host, () => {
      server.off('error', reject);
      resolve();
    });
  });
  server.on('error', (err) => log.error({ err }, 'metrics listener error'));
  const { port } = server.address() as AddressInfo;
  log.info({ port, host: options.host }, METRICS_LISTENING_MESSAGE);

  let closing: Promise<void> | undefined;
  return {
    port,
    close: () => {
      closing ??= new Promise<void>((resolve) => {
        server.close(() => resolve());
        server.closeAllConnections();
      });
      return closing;
    },
  };
};
