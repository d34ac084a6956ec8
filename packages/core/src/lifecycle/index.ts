export { createLifecycle, type Lifecycle, type ShutdownOutcome } from './createLifecycle.js';
export { handleShutdownSignals } from './handleShutdownSignals.js';
