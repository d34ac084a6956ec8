/**
 * GET `{apiUrl}{path}`, bounded; the status and the parsed JSON body (null when not JSON). Throws when unreachable.
 * `probe` names what was asked without the host (`GET /health`): check details are stored and shown to every token
 * holder, and the API's address is configuration, not something to publish.
 */
export const probeApi = async (
  apiUrl: string,
  path: string,
  options: { timeoutMs: number; token?: string | undefined },
): Promise<{ probe: string; status: number; body: unknown }> => {
  const url = `${apiUrl.replace(/\/+$/, '')}${path}`;
  const response = await fetch(url, {
    signal: AbortSignal.timeout(options.timeoutMs),
    ...(options.token === undefined ? {} : { headers: { authorization: `Bearer ${options.token}` } }),
  });
  const text = await response.text();
  let body: unknown = null;
  try {
    body = JSON.parse(text);
  } catch {
    body = null;
  }
  return { probe: `GET ${path}`, status: response.status, body };
};
