import autocannon, { type Request } from 'autocannon';

export type HttpLoadResult = { requests: number; ok: number; non2xx: number; errors: number; seconds: number; perSecond: number };

/**
 * `total` POSTs with `concurrency` keep-alive connections (autocannon), each body from `bodyFor(i)`.
 * Resolves when every request was answered.
 */
export const postLoad = async (options: {
  url: string;
  path: string;
  token: string;
  total: number;
  concurrency: number;
  bodyFor: (index: number) => unknown;
}): Promise<HttpLoadResult> => {
  let index = 0;
  const started = performance.now();
  let lastResponseAt = started;
  let instance: autocannon.Instance | undefined;
  const finished = new Promise<autocannon.Result>((resolve, reject) => {
    instance = autocannon({
      url: options.url,
      connections: options.concurrency,
      amount: options.total,
      timeout: 30,
      // autocannon ends a fixed-amount run on its sampling tick (one second by default): a run of 5,000 changes at 900
      // a second measured 6 or 7 s. Ticking every 10 ms ends it within 10 ms of the last response.
      sampleInt: 10,
      requests: [
        {
          method: 'POST',
          path: options.path,
          headers: { authorization: `Bearer ${options.token}`, 'content-type': 'application/json' },
          setupRequest: (request: Request): Request => {
            const body = JSON.stringify(options.bodyFor(index));
            index += 1;
            return { ...request, body };
          },
        },
      ],
      },
      (error: Error | null, result) => (error ? reject(error) : resolve(result)),
    );
  });
  // autocannon's own duration still rounds up to its tick; the time of the last response is the real end.
  instance?.on('response', () => {
    lastResponseAt = performance.now();
  });
  const result = await finished;
  const seconds = (lastResponseAt - started) / 1000;
  const ok = result['2xx'];
  return { requests: options.total, ok, non2xx: result.non2xx, errors: result.errors, seconds, perSecond: ok / seconds };
};

/** One POST with fetch; returns the parsed body and the status. @throws when it is not answered within `timeoutMs`. */
export const postJson = async (url: string, token: string, body: unknown, timeoutMs?: number): Promise<{ status: number; body: Record<string, unknown> }> => {
  const response = await fetch(url, {
    method: 'POST',
    headers: { authorization: `Bearer ${token}`, 'content-type': 'application/json' },
    body: JSON.stringify(body),
    ...(timeoutMs === undefined ? {} : { signal: AbortSignal.timeout(timeoutMs) }),
  });
  return { status: response.status, body: (await response.json()) as Record<string, unknown> };
};

/** POSTs one engage to `apiUrl` and resolves with its time to the answer. @throws unless it answers 200 completed. */
export const timeEngage = async (apiUrl: string, token: string, reason: string): Promise<number> => {
  const started = performance.now();
  const response = await postJson(`${apiUrl}/api/governance/kill-switch`, token, { engaged: true, reason });
  const elapsed = performance.now() - started;
  if (response.status !== 200 || response.body.status !== 'completed') throw new Error(`engage answered ${response.status} ${JSON.stringify(response.body)}`);
  return elapsed;
};
