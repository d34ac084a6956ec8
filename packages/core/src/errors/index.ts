export { ERROR_CODES, isErrorCode, type ErrorCode } from './errorCodes.js';
export {
  AppError,
  ConfigError,
  DatabaseConflictError,
  InvalidPayloadError,
  MigrationError,
  PreconditionFailedError,
  RetryableDatabaseError,
  type ErrorDetail,
} from './AppError.js';
