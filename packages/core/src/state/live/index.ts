export {
  LIVE_STATE_CHANNEL,
  type LiveState,
  readLiveState,
} from './liveState.js';
export {
  createLiveStateListener,
  type FreshLiveState,
  type LiveStateListener,
} from './liveStateListener.js';
