export { createLifecycle, type Lifecycle } from './createLifecycle.js';
export { handleShutdownSignals } from './handleShutdownSignals.js';
export { TimeoutError, withTimeout } from './withTimeout.js';
