import http from 'node:http';
import https from 'node:https';
import { createSseParser } from './sseParser.js';
import type { ChangeListener, ErrorListener, GoLiveClient, GoLiveClientOptions, GoLiveState, LiveStateBody } from './types.js';

const STREAM_PATH = '/api/governance/stream';
const LIVE_PATH = '/api/governance/live';
/** A stream that answers 200 but sends no event this long is behind a buffering proxy: treat it as failed. */
const FIRST_EVENT_TIMEOUT_MS = 10_000;
/** How often, at most, the fail-closed bound is checked, so `change` fires when `isLive()` flips by age alone. */
const AGE_CHECK_MS = 1_000;
/** The age header of a /live answer served while the api's own view was not current (its listener was down). */
const AGE_HEADER = 'x-live-state-age-ms';

type Known = { body: LiveStateBody; etag: string };

const isBody = (value: unknown): value is LiveStateBody =>
  typeof value === 'object' && value !== null && typeof (value as LiveStateBody).live === 'boolean' &&
  typeof (value as LiveStateBody).version === 'number';

class HttpStatusError extends Error {
  constructor(readonly status: number, body: string) {
    super(`the control plane answered ${status}: ${body.slice(0, 300)}`);
    this.name = 'HttpStatusError';
  }
}

/**
 * Creates a client that keeps the go-live state in memory: a Server-Sent Events stream of every change (resumed with
 * Last-Event-ID after a reconnect), polling of `/live` while streaming fails, and a policy for an unreachable
 * control plane (keep the last known state by default, or fail closed after `failClosedAfterMs`). It starts at once.
 */
export const createGoLiveClient = (options: GoLiveClientOptions): GoLiveClient => {
  const base = new URL(options.url);
  const pollIntervalMs = options.pollIntervalMs ?? 2_000;
  const initialMs = options.reconnect?.initialMs ?? 250;
  const maxMs = options.reconnect?.maxMs ?? 10_000;
  const failuresBeforePolling = options.streamFailuresBeforePolling ?? 2;
  const idleTimeoutMs = options.idleTimeoutMs ?? 45_000;
  const staleAfterMs = options.staleAfterMs ?? 30_000;
  const requestTimeoutMs = options.requestTimeoutMs ?? 5_000;
  const authorization = `Bearer ${options.token}`;

  const changeListeners = new Set<ChangeListener>();
  const errorListeners = new Set<ErrorListener>();
  let known: Known | undefined;
  let streamConnected = false;
  let polling = false;
  /**
   * When the api last vouched for the state: the last byte received on the stream (an event, a heartbeat, anything)
   * or the last answer to a poll, less the age the api reported with it. A connected socket vouches for nothing: a
   * frozen or partitioned api keeps it open while sending nothing.
   */
  let heardAt = 0;
  let closed = false;
  let lastReported: GoLiveState | undefined;
  let lastLive = false;
  const stop = new AbortController();
  let resolveReady!: () => void;
  let rejectReady!: (error: Error) => void;
  const readyPromise = new Promise<void>((resolve, reject) => {
    resolveReady = resolve;
    rejectReady = reject;
  });
  readyPromise.catch(() => {});

  const ageMs = () => (known === undefined ? Infinity : Math.max(0, Date.now() - heardAt));
  const failedClosed = () => options.failClosedAfterMs !== undefined && ageMs() > options.failClosedAfterMs;
  const snapshot = (): GoLiveState | undefined => {
    if (known === undefined) return undefined;
    const age = ageMs();
    return {
      ...known.body,
      etag: known.etag,
      ageMs: age,
      stale: age > staleAfterMs,
      transport: streamConnected ? 'stream' : polling ? 'poll' : 'disconnected',
    };
  };
  const isLive = () => known !== undefined && known.body.live && !failedClosed();

  const emitError = (error: unknown) => {
    const err = error instanceof Error ? error : new Error(String(error));
    for (const listener of errorListeners) listener(err);
  };
  const emitChange = () => {
    const next = snapshot();
    if (next === undefined) return;
    const previous = lastReported;
    lastReported = next;
    lastLive = isLive();
    for (const listener of changeListeners) {
      try {
        listener(next, previous);
      } catch (error) {
        emitError(error);
      }
    }
  };

  /** Takes a state the api vouched for at `at` (now, or now less the age it reported). */
  const apply = (body: LiveStateBody, etag: string, at = Date.now()) => {
    heardAt = Math.max(heardAt, at);
    const changed = known === undefined || known.etag !== etag || JSON.stringify(known.body) !== JSON.stringify(body);
    known = { body, etag };
    resolveReady();
    if (changed || lastLive !== isLive()) emitChange();
  };

  const sleep = (ms: number) =>
    new Promise<void>((resolve) => {
      const timer = setTimeout(resolve, ms);
      stop.signal.addEventListener('abort', () => {
        clearTimeout(timer);
        resolve();
      }, { once: true });
    });

  // ---- polling (/live with If-None-Match) ----
  const pollOnce = async (): Promise<void> => {
    const headers: Record<string, string> = { authorization, accept: 'application/json' };
    if (known !== undefined) headers['if-none-match'] = `"${known.etag}"`;
    const response = await fetch(new URL(LIVE_PATH, base), {
      headers,
      signal: AbortSignal.any([stop.signal, AbortSignal.timeout(requestTimeoutMs)]),
    });
    const serverAge = Number(response.headers.get(AGE_HEADER) ?? 0);
    const vouchedAt = Date.now() - (Number.isFinite(serverAge) && serverAge > 0 ? serverAge : 0);
    if (response.status === 304 && known !== undefined) {
      await response.body?.cancel();
      apply(known.body, known.etag, vouchedAt);
      return;
    }
    const text = await response.text();
    if (response.status !== 200) throw new HttpStatusError(response.status, text);
    const body: unknown = JSON.parse(text);
    if (!isBody(body)) throw new Error('the control plane answered /live with an unexpected body');
    const etag = (response.headers.get('etag') ?? String(body.version)).replace(/^W\//, '').replace(/"/g, '');
    // While streaming, a poll only confirms: an answer overtaken by a newer event must not take the state back.
    if (streamConnected && known !== undefined && body.version < known.body.version) {
      heardAt = Math.max(heardAt, vouchedAt);
      return;
    }
    apply(body, etag, vouchedAt);
  };
  /** One confirmation poll at a time, while streaming (see the age check). */
  let confirming: Promise<void> | undefined;
  const confirm = () => {
    confirming ??= pollOnce()
      .catch((error: unknown) => {
        if (!closed) emitError(error);
      })
      .finally(() => {
        confirming = undefined;
      });
  };
  let pollLoop: Promise<void> | undefined;
  /** Each start of polling gets a new generation, so a loop still sleeping from an earlier start ends. */
  let pollGeneration = 0;
  const startPolling = () => {
    if (polling || closed) return;
    polling = true;
    const generation = ++pollGeneration;
    pollLoop = (async () => {
      while (polling && !closed && generation === pollGeneration) {
        try {
          await pollOnce();
        } catch (error) {
          if (!closed) emitError(error);
        }
        if (polling && !closed) await sleep(pollIntervalMs);
      }
    })();
  };
  const stopPolling = () => {
    polling = false;
  };

  // ---- streaming (SSE over node:http(s)) ----
  let currentRequest: http.ClientRequest | undefined;
  /** Resolves true when the stream delivered at least one event before it ended, false when it never did. */
  const streamOnce = () =>
    new Promise<boolean>((resolve, reject) => {
      const headers: Record<string, string> = { authorization, accept: 'text/event-stream', 'cache-control': 'no-cache' };
      if (known !== undefined) headers['last-event-id'] = known.etag;
      const transport = base.protocol === 'https:' ? https : http;
      let delivered = false;
      let idleTimer: NodeJS.Timeout | undefined;
      const request = transport.request(new URL(STREAM_PATH, base), { headers, agent: false });
      currentRequest = request;
      const armIdle = (ms: number) => {
        if (idleTimer !== undefined) clearTimeout(idleTimer);
        idleTimer = setTimeout(() => request.destroy(new Error(`the stream sent nothing for ${ms} ms; reconnecting`)), ms);
      };
      const finish = (error?: Error) => {
        if (idleTimer !== undefined) clearTimeout(idleTimer);
        // The state keeps ageing from the last byte heard, not from now: a stream found dead after a silence was
        // dead all along. `change` fires only if the age flips isLive() (the fail-closed bound).
        streamConnected = false;
        if (error !== undefined && !delivered) reject(error);
        else resolve(delivered);
      };
      armIdle(FIRST_EVENT_TIMEOUT_MS);
      request.once('error', (error) => finish(error));
      request.once('response', (response) => {
        if (response.statusCode !== 200) {
          let text = '';
          response.setEncoding('utf8');
          response.on('data', (chunk: string) => {
            text += chunk;
          });
          response.once('end', () => finish(new HttpStatusError(response.statusCode ?? 0, text)));
          response.once('error', (error) => finish(error));
          return;
        }
        const parse = createSseParser((event) => {
          if (event.event !== 'state') return;
          let body: unknown;
          try {
            body = JSON.parse(event.data);
          } catch {
            emitError(new Error('the stream sent a state event that is not JSON'));
            return;
          }
          if (!isBody(body)) return;
          delivered = true;
          if (!streamConnected) {
            streamConnected = true;
            stopPolling();
          }
          apply(body, event.id ?? String(body.version));
        });
        response.setEncoding('utf8');
        response.on('data', (chunk: string) => {
          // Every byte, a heartbeat included, is the api saying it is alive and has nothing newer to tell.
          if (chunk.length > 0 && delivered) {
            heardAt = Date.now();
            if (lastLive !== isLive()) emitChange();
          }
          // The first bytes carry the state or, when resuming up to date, only `retry:`: either way we are current.
          if (!delivered && known !== undefined && chunk.length > 0) {
            delivered = true;
            if (!streamConnected) {
              streamConnected = true;
              stopPolling();
              apply(known.body, known.etag);
            }
          }
          armIdle(delivered ? idleTimeoutMs : FIRST_EVENT_TIMEOUT_MS);
          parse(chunk);
        });
        response.once('end', () => finish());
        response.once('close', () => finish());
        response.once('error', (error) => finish(error));
      });
      request.end();
    });

  const streamLoop = async () => {
    let failures = 0;
    while (!closed) {
      try {
        const delivered = await streamOnce();
        failures = delivered ? 0 : failures + 1;
      } catch (error) {
        failures += 1;
        if (!closed) emitError(error);
      }
      if (closed) break;
      if (failures >= failuresBeforePolling) startPolling();
      const delay = Math.min(maxMs, initialMs * 2 ** Math.max(0, failures - 1));
      await sleep(delay * (0.5 + Math.random()));
    }
  };

  const loop = options.transport === 'poll' ? (startPolling(), Promise.resolve()) : streamLoop();
  const failClosedAfterMs = options.failClosedAfterMs;
  const ageCheck = setInterval(
    () => {
      if (known === undefined) return;
      // A stream is quiet between heartbeats (15 s by default): with a shorter fail-closed bound, a quiet but
      // healthy stream is confirmed by a conditional GET /live (a 304 without a body) at half the bound, so the
      // state ages only when the api really stops answering.
      if (failClosedAfterMs !== undefined && streamConnected && ageMs() > failClosedAfterMs / 2) confirm();
      if (isLive() !== lastLive) emitChange();
    },
    Math.max(50, Math.min(AGE_CHECK_MS, (failClosedAfterMs ?? AGE_CHECK_MS) / 4)),
  );
  ageCheck.unref();

  function on(event: 'change', listener: ChangeListener): () => void;
  function on(event: 'error', listener: ErrorListener): () => void;
  function on(event: 'change' | 'error', listener: ChangeListener | ErrorListener): () => void {
    if (event === 'change') {
      changeListeners.add(listener as ChangeListener);
      return () => changeListeners.delete(listener as ChangeListener);
    }
    errorListeners.add(listener as ErrorListener);
    return () => errorListeners.delete(listener as ErrorListener);
  }

  return {
    ready: () => readyPromise,
    isLive,
    state: snapshot,
    on,
    close: async () => {
      if (!closed) {
        closed = true;
        stopPolling();
        stop.abort();
        clearInterval(ageCheck);
        currentRequest?.destroy();
        rejectReady(new Error('the go-live client was closed before it knew the state'));
      }
      await Promise.all([loop, pollLoop, confirming]);
    },
  };
};
