export { createGoLiveClient } from './createGoLiveClient.js';
export type { ChangeListener, ErrorListener, GoLiveClient, GoLiveClientOptions, GoLiveState, LiveStateBody } from './types.js';
