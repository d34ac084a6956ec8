import http from 'node:http';
import https from 'node:https';
import type { LookupFunction } from 'node:net';
import { DELIVERY_FAILURES, effectivePort, vetTarget, type AllowedHost, type DeliveryFailureCode, type HostResolver } from '@valhalla/core/notifications';

/** How one POST ended. A failure carries a DELIVERY_FAILURES code and a message safe to store and show. */
export type PostOutcome =
  | { ok: true; status: number }
  | { ok: false; code: DeliveryFailureCode; message: string; status: number | null; gone: boolean; retryAfterMs: number | undefined };

export type PostOptions = {
  allowedHosts: readonly AllowedHost[];
  resolve: HostResolver;
  /** The whole attempt (DNS, connect, request, response headers) must end within this. */
  timeoutMs: number;
  /** Response bytes read at most; the rest is not read (the connection is dropped). */
  maxResponseBytes: number;
  agents: { http: http.Agent; https: https.Agent };
  userAgent: string;
};

/** Keep-alive agents (a subscription delivers one message after another; new connections would pile up in TIME_WAIT). */
export const createDeliveryAgents = (): { http: http.Agent; https: https.Agent; destroy: () => void } => {
  const options = { keepAlive: true, maxSockets: 4, maxFreeSockets: 4, timeout: 30_000 };
  const agents = { http: new http.Agent(options), https: new https.Agent(options) };
  return { ...agents, destroy: () => Object.values(agents).forEach((agent) => agent.destroy()) };
};

class AttemptTimeout extends Error {
  override readonly name = 'AttemptTimeout';
}

const CONNECTION_CODES: ReadonlySet<string> = new Set(['ECONNREFUSED', 'ECONNRESET', 'EHOSTUNREACH', 'ENETUNREACH', 'EPIPE', 'ETIMEDOUT', 'ECONNABORTED', 'EADDRNOTAVAIL']);

const retryAfterMsOf = (header: string | undefined): number | undefined => {
  if (header === undefined) return undefined;
  if (/^[0-9]{1,9}$/.test(header.trim())) return Number(header.trim()) * 1000;
  const at = Date.parse(header);
  return Number.isNaN(at) ? undefined : Math.max(0, at - Date.now());
};

/**
 * POSTs `body` to `url` safely: the host is vetted after DNS resolution (vetTarget) and the connection goes to the
 * address that was vetted (the request's lookup answers with it), so a name re-pointed between the check and the
 * connect cannot reach an internal address; redirects are not followed (a 3xx is a failure); the whole attempt is
 * bounded by `timeoutMs`, and at most `maxResponseBytes` of the answer are read. Resolves once the status is known;
 * never rejects. Messages name the host and port, never the path or query (a Slack URL's path is its secret).
 */
export const postToTarget = async (url: URL, body: string, headers: Readonly<Record<string, string>>, options: PostOptions): Promise<PostOutcome> => {
  const started = Date.now();
  const failure = (code: DeliveryFailureCode, message: string, extra: { status?: number; gone?: boolean; retryAfterMs?: number | undefined } = {}): PostOutcome => ({
    ok: false,
    code,
    message,
    status: extra.status ?? null,
    gone: extra.gone ?? false,
    retryAfterMs: extra.retryAfterMs,
  });
  const host = url.hostname.replace(/^\[(.*)\]$/, '$1');
  const port = effectivePort(url);
  const where = `${url.hostname}:${port}`;

  const verdict = await vetTarget(url, options.allowedHosts, options.resolve, { timeoutMs: options.timeoutMs });
  if (!verdict.ok) return failure(verdict.code, verdict.message);

  const remainingMs = Math.max(1, options.timeoutMs - (Date.now() - started));
  const pinned: LookupFunction = (_hostname, lookupOptions, callback) => {
    // Node asks for every address (`all`) when it races IPv4 and IPv6 (autoSelectFamily): answer in that form too.
    if ((lookupOptions as { all?: boolean }).all === true) {
      (callback as unknown as (error: null, addresses: { address: string; family: number }[]) => void)(null, [{ address: verdict.address, family: verdict.family }]);
    } else {
      callback(null, verdict.address, verdict.family);
    }
  };
  const https_ = url.protocol === 'https:';
  return new Promise<PostOutcome>((resolve) => {
    let settled = false;
    const settle = (outcome: PostOutcome) => {
      if (settled) return;
      settled = true;
      resolve(outcome);
    };
    const request = (https_ ? https : http).request({
      protocol: url.protocol,
      hostname: host,
      port,
      path: `${url.pathname}${url.search}`,
      method: 'POST',
      agent: https_ ? options.agents.https : options.agents.http,
      lookup: pinned,
      // The certificate is checked against the name in the URL, whatever address it resolved to.
      ...(https_ ? { servername: host } : {}),
      headers: { 'content-type': 'application/json', 'content-length': String(Buffer.byteLength(body)), 'user-agent': options.userAgent, ...headers },
    });
    const deadline = setTimeout(() => request.destroy(new AttemptTimeout(`no answer from ${where} within ${options.timeoutMs} ms`)), remainingMs);
    request.on('response', (response) => {
      const status = response.statusCode ?? 0;
      let received = 0;
      response.on('data', (chunk: Buffer) => {
        received += chunk.length;
        if (received > options.maxResponseBytes) response.destroy();
      });
      response.on('error', () => {});
      response.on('close', () => clearTimeout(deadline));
      if (status >= 200 && status < 300) {
        settle({ ok: true, status });
      } else if (status >= 300 && status < 400) {
        settle(failure(DELIVERY_FAILURES.httpStatus, `${where} answered ${status}; redirects are not followed (point the subscription at the final URL)`, { status }));
      } else {
        settle(
          failure(DELIVERY_FAILURES.httpStatus, `${where} answered ${status}`, {
            status,
            gone: status === 410,
            retryAfterMs: status === 429 || status === 503 ? retryAfterMsOf(response.headers['retry-after']) : undefined,
          }),
        );
      }
    });
    request.on('error', (error: Error & { code?: string }) => {
      clearTimeout(deadline);
      if (error instanceof AttemptTimeout) return settle(failure(DELIVERY_FAILURES.timeout, error.message));
      const code = typeof error.code === 'string' ? error.code : undefined;
      if (code !== undefined && CONNECTION_CODES.has(code)) return settle(failure(DELIVERY_FAILURES.connectionFailed, `${code} connecting to ${where}`));
      if (code !== undefined && /^(ERR_TLS|CERT_|UNABLE_TO|DEPTH_ZERO|SELF_SIGNED|ERR_SSL)/.test(code)) {
        return settle(failure(DELIVERY_FAILURES.connectionFailed, `TLS failed with ${where} (${code})`));
      }
      return settle(failure(DELIVERY_FAILURES.connectionFailed, `the request to ${where} failed${code === undefined ? '' : ` (${code})`}`));
    });
    request.end(body);
  });
};
