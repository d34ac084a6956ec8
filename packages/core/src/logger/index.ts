export { createLogger, type Logger } from './createLogger.js';
export { exitAfterFlush } from './exitAfterFlush.js';
