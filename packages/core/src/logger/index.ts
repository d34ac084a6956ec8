export { createLogger, type Logger } from './createLogger.js';
