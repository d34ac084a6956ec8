import { useEffect, useState } from 'preact/hooks';
import { describeError } from '../api/ApiError.js';
import { currentCredentials, request } from '../api/http.js';
import type { LiveState } from '../api/types.js';
import { sameState } from './sameState.js';

const STREAM_PATH = '/api/governance/stream';
const LIVE_PATH = '/api/governance/live';
/** Without the stream, how often the state is read: the console promises a change on screen within a second. */
const POLL_INTERVAL_MS = 500;

export type Connection = 'connecting' | 'stream' | 'polling' | 'offline';
export type LiveView = { state: LiveState | null; connection: Connection; error: { code: string; message: string } | null };

/** Reads the state once, from the live endpoint of the api that serves the console. */
const readOnce = (): Promise<LiveState> => request<LiveState>('GET', LIVE_PATH);

/**
 * The go-live state as it changes. With a session cookie it follows the SSE stream (EventSource sends the cookie,
 * it cannot send headers) and falls back to polling when the api has no stream; with a bearer token it polls.
 * `state` only changes identity when the state changed, so effects keyed on it run once per change.
 */
export const useLiveState = (enabled: boolean): LiveView => {
  const [view, setView] = useState<LiveView>({ state: null, connection: 'connecting', error: null });

  useEffect(() => {
    if (!enabled) return undefined;
    let stopped = false;
    let source: EventSource | null = null;
    let timer: ReturnType<typeof setTimeout> | undefined;

    const accept = (next: LiveState, connection: Connection) => {
      if (stopped) return;
      setView((previous) => ({ state: sameState(previous.state, next) ? previous.state : next, connection, error: null }));
    };

    const poll = async () => {
      try {
        accept(await readOnce(), 'polling');
      } catch (error) {
        if (!stopped) setView((previous) => ({ ...previous, connection: 'offline', error: describeError(error) }));
      }
      if (!stopped) timer = setTimeout(() => void poll(), POLL_INTERVAL_MS);
    };

    const follow = () => {
      let opened = false;
      source = new EventSource(STREAM_PATH, { withCredentials: true });
      source.addEventListener('open', () => {
        opened = true;
      });
      source.addEventListener('state', (event) => {
        try {
          accept(JSON.parse((event as MessageEvent<string>).data) as LiveState, 'stream');
        } catch (error) {
          setView((previous) => ({ ...previous, error: describeError(error) }));
        }
      });
      source.addEventListener('error', () => {
        if (stopped || source === null) return;
        // Closed before it ever opened: no stream on this api (404) or not allowed. Poll instead. After it opened,
        // EventSource reconnects by itself with Last-Event-ID.
        if (source.readyState === EventSource.CLOSED && !opened) {
          source.close();
          source = null;
          void poll();
          return;
        }
        setView((previous) => ({ ...previous, connection: 'offline' }));
      });
    };

    if (currentCredentials()?.kind === 'session') follow();
    else void poll();

    return () => {
      stopped = true;
      source?.close();
      if (timer !== undefined) clearTimeout(timer);
    };
  }, [enabled]);

  return view;
};
