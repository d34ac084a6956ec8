/** A failed API call: the contract's error code and message, or a transport failure (code `UNREACHABLE`). */
export class ApiCallError extends Error {
  readonly code: string;
  readonly status: number | undefined;
  readonly details: unknown;

  constructor(code: string, message: string, status?: number, details?: unknown) {
    super(message);
    this.name = 'ApiCallError';
    this.code = code;
    this.status = status;
    this.details = details;
  }
}

export type ApiClient = {
  get<T>(path: string): Promise<T>;
  post<T>(path: string, body: unknown): Promise<T>;
  patch<T>(path: string, body: unknown): Promise<T>;
  delete<T>(path: string, body: unknown): Promise<T>;
};

/** fetch says only "fetch failed"; the reason (ECONNREFUSED, ENOTFOUND, a timeout) is in its cause. */
const describeTransportError = (error: unknown): string => {
  if (!(error instanceof Error)) return String(error);
  if (error.name === 'TimeoutError') return 'no answer in time';
  const cause = error.cause as { code?: unknown; message?: unknown } | undefined;
  const detail = typeof cause?.code === 'string' ? cause.code : typeof cause?.message === 'string' ? cause.message : undefined;
  return detail === undefined ? error.message : `${error.message} (${detail})`;
};

type ErrorBody = { error?: { code?: string; message?: string; details?: unknown } };

/**
 * The CLI's HTTP client for the governance API: bearer auth, JSON, a bounded timeout, and the contract's error
 * shape turned into ApiCallError.
 */
export const createApiClient = (options: { baseUrl: string; token: string | undefined; timeoutMs?: number; fetchImpl?: typeof fetch }): ApiClient => {
  const fetchImpl = options.fetchImpl ?? fetch;
  const call = async <T>(method: 'GET' | 'POST' | 'PATCH' | 'DELETE', path: string, body?: unknown): Promise<T> => {
    const headers: Record<string, string> = { accept: 'application/json' };
    if (options.token !== undefined) headers.authorization = `Bearer ${options.token}`;
    if (body !== undefined) headers['content-type'] = 'application/json';
    let response: Response;
    try {
      response = await fetchImpl(`${options.baseUrl.replace(/\/+$/, '')}${path}`, {
        method,
        headers,
        ...(body === undefined ? {} : { body: JSON.stringify(body) }),
        signal: AbortSignal.timeout(options.timeoutMs ?? 15_000),
      });
    } catch (error) {
      throw new ApiCallError('UNREACHABLE', `cannot reach ${options.baseUrl}: ${describeTransportError(error)}`);
    }
    const text = await response.text();
    let parsed: unknown;
    try {
      parsed = text.length === 0 ? undefined : JSON.parse(text);
    } catch {
      throw new ApiCallError('BAD_RESPONSE', `${method} ${path} answered ${response.status} with a non-JSON body`, response.status);
    }
    if (!response.ok) {
      const error = (parsed as ErrorBody | undefined)?.error;
      throw new ApiCallError(error?.code ?? `HTTP_${response.status}`, error?.message ?? `${method} ${path} answered ${response.status}`, response.status, error?.details);
    }
    return parsed as T;
  };
  return {
    get: (path) => call('GET', path),
    post: (path, body) => call('POST', path, body),
    patch: (path, body) => call('PATCH', path, body),
    delete: (path, body) => call('DELETE', path, body),
  };
};
