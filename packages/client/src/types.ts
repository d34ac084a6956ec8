/** The body of `GET /api/governance/live` and of every `state` event of the stream. */
export type LiveStateBody = {
  live: boolean;
  go_live_enabled: boolean;
  kill_switch_engaged: boolean;
  backend_complete: boolean;
  /** The audit id of the newest applied change. */
  version: number;
  changed_by: string | null;
  reason: string | null;
  updated_at: string | null;
};

/** What the client knows, and how fresh it is. */
export type GoLiveState = LiveStateBody & {
  /** The server's entity tag / event id for this state (the version, with a suffix after a write made outside the product). */
  etag: string;
  /**
   * How long ago this state was last known to be current: 0 while the stream is connected (it would have told us of
   * a change); otherwise the time since the stream dropped or the last successful poll.
   */
  ageMs: number;
  /** True when ageMs exceeds `staleAfterMs`. */
  stale: boolean;
  /** How the client is currently learning of changes. */
  transport: 'stream' | 'poll' | 'disconnected';
};

export type GoLiveClientOptions = {
  /** Base URL of the Valhalla api, e.g. `https://valhalla-api.onrender.com`. */
  url: string;
  /** A bearer token allowed to read the live state (an app or reader token). */
  token: string;
  /** `auto` (default): stream, falling back to polling while streaming fails. `poll`: poll only. */
  transport?: 'auto' | 'poll';
  /** Polling period, used by `poll` and by the fallback (default 2000 ms). */
  pollIntervalMs?: number;
  /** Reconnect backoff of the stream: doubles from `initialMs` (default 250) up to `maxMs` (default 10000), with jitter. */
  reconnect?: { initialMs?: number; maxMs?: number };
  /** Consecutive failed stream attempts before polling starts alongside the reconnects (default 2). */
  streamFailuresBeforePolling?: number;
  /** A connected stream that sends nothing (not even a heartbeat) for this long is replaced (default 45000 ms). */
  idleTimeoutMs?: number;
  /** `state().stale` becomes true past this age (default 30000 ms). */
  staleAfterMs?: number;
  /**
   * Unreachable control plane policy. Undefined (default): keep the last known state however old it gets (an outage
   * of the control plane does not take your service down). A number: fail closed, `isLive()` answers false once the
   * state is older than this many milliseconds, until the control plane is reachable again.
   */
  failClosedAfterMs?: number;
  /** Per-request timeout of polls (default 5000 ms). */
  requestTimeoutMs?: number;
};

export type ChangeListener = (state: GoLiveState, previous: GoLiveState | undefined) => void;
export type ErrorListener = (error: Error) => void;

export type GoLiveClient = {
  /** Resolves once the first state is known. Rejects when `close()` is called first. */
  ready(): Promise<void>;
  /** Synchronous, from memory: `live` of the last known state (false before the first one, and when failed closed). */
  isLive(): boolean;
  /** The last known state with its age; undefined before the first one. */
  state(): GoLiveState | undefined;
  /**
   * `change`: the state changed (also when `isLive()` flips because of the fail-closed bound).
   * `error`: a connection or request failed (the client keeps retrying; listen to log it).
   */
  on(event: 'change', listener: ChangeListener): () => void;
  on(event: 'error', listener: ErrorListener): () => void;
  /** Stops streaming and polling; idempotent. */
  close(): Promise<void>;
};
