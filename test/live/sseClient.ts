import http from 'node:http';
import { track } from '../helpers/leaks.js';
import { waitFor } from '../helpers/waitFor.js';

type SseEvent = { event: string; id: string | undefined; data: string };

export type SseConnection = {
  status: number;
  headers: http.IncomingHttpHeaders;
  /** Every event received so far, in order. */
  events: SseEvent[];
  /** Comment lines (heartbeats) received so far. */
  comments: string[];
  /** The body when the server answered with an error instead of a stream. */
  body: () => string;
  ended: Promise<void>;
  isEnded: () => boolean;
  /** True when the server ended the response properly (the last chunk arrived), not by resetting the connection. */
  endedCleanly: () => boolean;
  waitForEvents: (count: number, timeoutMs?: number) => Promise<SseEvent[]>;
  close: () => Promise<void>;
};

/**
 * A Server-Sent Events client over node:http that keeps every event and comment, for tests. Parses the stream as the
 * EventSource specification does (fields per line, an empty line dispatches).
 */
export const openSse = async (
  url: string,
  options: { token?: string; cookie?: string; lastEventId?: string; track?: boolean } = {},
): Promise<SseConnection> => {
  const headers: Record<string, string> = { accept: 'text/event-stream' };
  if (options.token !== undefined) headers.authorization = `Bearer ${options.token}`;
  if (options.cookie !== undefined) headers.cookie = options.cookie;
  if (options.lastEventId !== undefined) headers['last-event-id'] = options.lastEventId;
  const request = http.request(url, { headers, agent: false });
  const response = await new Promise<http.IncomingMessage>((resolve, reject) => {
    request.once('response', resolve);
    request.once('error', reject);
    request.end();
  });
  const events: SseEvent[] = [];
  const comments: string[] = [];
  let raw = '';
  let buffer = '';
  let current: { event: string; id: string | undefined; data: string[] } = { event: 'message', id: undefined, data: [] };
  let ended = false;
  response.setEncoding('utf8');
  response.on('data', (chunk: string) => {
    raw += chunk;
    buffer += chunk;
    let newline = buffer.indexOf('\n');
    while (newline >= 0) {
      const line = buffer.slice(0, newline).replace(/\r$/, '');
      buffer = buffer.slice(newline + 1);
      if (line === '') {
        if (current.data.length > 0) events.push({ event: current.event, id: current.id, data: current.data.join('\n') });
        current = { event: 'message', id: undefined, data: [] };
      } else if (line.startsWith(':')) {
        comments.push(line.slice(1).trim());
      } else {
        const colon = line.indexOf(':');
        const field = colon < 0 ? line : line.slice(0, colon);
        const value = colon < 0 ? '' : line.slice(colon + 1).replace(/^ /, '');
        if (field === 'event') current.event = value;
        else if (field === 'id') current.id = value;
        else if (field === 'data') current.data.push(value);
      }
      newline = buffer.indexOf('\n');
    }
  });
  const endedPromise = new Promise<void>((resolve) => {
    response.once('close', () => {
      ended = true;
      resolve();
    });
    response.once('error', () => {
      ended = true;
      resolve();
    });
  });
  const close = async () => {
    if (!ended) {
      response.destroy();
      request.destroy();
    }
    await endedPromise;
  };
  const connection: SseConnection = {
    status: response.statusCode ?? 0,
    headers: response.headers,
    events,
    comments,
    body: () => raw,
    ended: endedPromise,
    isEnded: () => ended,
    endedCleanly: () => response.complete,
    waitForEvents: (count, timeoutMs = 10_000) =>
      waitFor(() => events.length >= count && events, { timeoutMs, description: `${count} events (have ${events.length})` }),
    close,
  };
  if (options.track !== false) track(connection, { description: `SSE connection to ${url}`, isOpen: () => !ended, close });
  return connection;
};
