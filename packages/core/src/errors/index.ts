export {
  AppError,
  ConfigError,
  DatabaseConflictError,
  InvalidPayloadError,
  MigrationError,
  RetryableDatabaseError,
  type ErrorDetail,
} from './AppError.js';
