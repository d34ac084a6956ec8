import type { LiveStateBody } from '@valhalla/contract';

/** The body of `GET /api/governance/live` and of every `state` event of the stream (the contract's type). */
export type { LiveStateBody };

/** What the client knows, and how fresh it is. */
export type GoLiveState = LiveStateBody & {
  /** The server's entity tag / event id for this state (the version, with a suffix after a write made outside the product). */
  etag: string;
  /**
   * How long ago the api last vouched for this state: the time since the last byte received on the stream (an event
   * or a heartbeat) or the last answer to a poll (less the age the api reported with it). An open socket that sends
   * nothing does not count: a frozen api keeps its sockets open.
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
  /**
   * The heartbeat bound: a connected stream that sends nothing (not even a heartbeat, every 15 s by default) for this
   * long counts as down and is replaced (default 45000 ms).
   */
  idleTimeoutMs?: number;
  /** `state().stale` becomes true past this age (default 30000 ms). */
  staleAfterMs?: number;
  /**
   * Unreachable control plane policy. Undefined (default): keep the last known state however old it gets (an outage
   * of the control plane does not take your service down). A number: fail closed, `isLive()` answers false once the
   * api has not vouched for the state for this many milliseconds (`ageMs`), until it answers again. A bound shorter
   * than the heartbeat interval is kept by a conditional `GET /live` (a 304) whenever the stream has been quiet for
   * half the bound.
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
