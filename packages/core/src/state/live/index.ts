export * from './liveState.js';
export * from './liveStateListener.js';
