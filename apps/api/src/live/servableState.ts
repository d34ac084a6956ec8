import type { FreshLiveState, LiveStateListener } from '@valhalla/core';
import { ApiError } from '../errors.js';

/** What a route needs to answer from the live state: the listener and how old a state it may still serve. */
export type LiveStateSource = { listener: LiveStateListener; maxStalenessMs: number };

/**
 * The state a route may serve: the snapshot while the listener is up (no database round trip), else a read at most
 * LIVE_FALLBACK_MAX_AGE_MS old. With the listener down and reads failing, the last known state is served until it is
 * LIVE_MAX_STALENESS_MS old; after that this instance can no longer vouch for it.
 * @throws ApiError DEPENDENCY_UNAVAILABLE when no state within the bound is known.
 */
export const servableState = async (source: LiveStateSource): Promise<FreshLiveState> => {
  const current = source.listener.isListening() ? source.listener.current() : undefined;
  if (current !== undefined) return { state: current, ageMs: 0 };
  let fresh: FreshLiveState;
  try {
    fresh = await source.listener.fresh();
  } catch (error) {
    throw new ApiError('DEPENDENCY_UNAVAILABLE', 'the live state cannot be read: PostgreSQL is unavailable', { cause: error });
  }
  if (fresh.ageMs > source.maxStalenessMs) {
    throw new ApiError('DEPENDENCY_UNAVAILABLE', `the last known live state is ${fresh.ageMs} ms old and PostgreSQL is unavailable`);
  }
  return fresh;
};
