export { ERROR_CODES, isErrorCode, type ErrorCode } from './errorCodes.js';
export { OFREP_ERROR_CODES, type OfrepErrorCode } from './ofrepErrorCodes.js';
export {
  AppError,
  ConfigError,
  DatabaseConflictError,
  InvalidPayloadError,
  MigrationError,
  RetryableDatabaseError,
  type ErrorDetail,
} from './AppError.js';
