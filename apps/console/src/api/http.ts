import { ApiError } from './ApiError.js';

/**
 * How requests authenticate. `session`: the HttpOnly session cookie (sent by the browser) plus the session's CSRF
 * token on every write. `bearer`: the token kept in this page's memory only (never in storage), for an api without
 * session endpoints; it is lost on reload, on purpose.
 */
export type Credentials = { kind: 'session'; csrfToken: string | null } | { kind: 'bearer'; token: string };

let credentials: Credentials | null = null;

export const setCredentials = (next: Credentials | null): void => {
  credentials = next;
};

export const currentCredentials = (): Credentials | null => credentials;

const errorFrom = async (response: Response): Promise<ApiError> => {
  const text = await response.text().catch(() => '');
  try {
    const body = JSON.parse(text) as { error?: { code?: unknown; message?: unknown; details?: unknown } };
    const error = body.error;
    if (error !== undefined && typeof error.code === 'string' && typeof error.message === 'string') {
      const details = Array.isArray(error.details) ? (error.details as { field: string; message: string }[]) : [];
      return new ApiError(error.code, error.message, response.status, details);
    }
  } catch {
    // Not the contract's error shape (a proxy's page, an empty body): say what came back.
  }
  return new ApiError(`HTTP_${response.status}`, `the api answered ${response.status} ${response.statusText}`.trim(), response.status);
};

/**
 * One call to the api. Writes carry the session's X-CSRF-Token (cookie auth) or the bearer token.
 * @throws ApiError with the api's code, or NETWORK_ERROR when the api could not be reached.
 */
export const request = async <T>(method: 'GET' | 'POST' | 'PATCH' | 'DELETE', path: string, body?: unknown): Promise<T> => {
  const headers: Record<string, string> = { accept: 'application/json' };
  if (body !== undefined) headers['content-type'] = 'application/json';
  if (credentials?.kind === 'bearer') headers.authorization = `Bearer ${credentials.token}`;
  if (credentials?.kind === 'session' && method !== 'GET' && credentials.csrfToken !== null) headers['x-csrf-token'] = credentials.csrfToken;
  let response: Response;
  try {
    response = await fetch(path, {
      method,
      headers,
      credentials: 'same-origin',
      cache: 'no-store',
      ...(body === undefined ? {} : { body: JSON.stringify(body) }),
    });
  } catch (error) {
    throw new ApiError('NETWORK_ERROR', `the api could not be reached (${error instanceof Error ? error.message : String(error)})`, 0);
  }
  if (!response.ok) throw await errorFrom(response);
  if (response.status === 204) return undefined as T;
  return (await response.json()) as T;
};
