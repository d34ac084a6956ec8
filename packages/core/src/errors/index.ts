export { ERROR_CODES, isErrorCode, type ErrorCode } from './errorCodes.js';
export {
  AppError,
  ConfigError,
  DatabaseConflictError,
  InvalidPayloadError,
  MigrationError,
  RetryableDatabaseError,
  type ErrorDetail,
} from './AppError.js';
