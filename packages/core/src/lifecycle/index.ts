export { createLifecycle, type Lifecycle, type ShutdownOutcome } from './createLifecycle.js';
export { handleShutdownSignals } from './handleShutdownSignals.js';
export { TimeoutError, withTimeout } from './withTimeout.js';
