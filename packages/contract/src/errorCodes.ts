/**
 * Every stable error code the product emits, with the HTTP status the API answers for it and what it means.
 * The API maps codes to statuses from this table only; tests check that apps/api/ERRORS.md documents each code and
 * docs/http-api.md names each one a client can meet.
 */
export const ERROR_CODES = {
  VALIDATION_FAILED: { status: 400, description: 'The body, query string or path failed validation; details name each field.' },
  INVALID_JSON: { status: 400, description: 'The request body is not valid JSON.' },
  UNAUTHENTICATED: { status: 401, description: 'Missing, malformed or unknown bearer token.' },
  FORBIDDEN: { status: 403, description: 'The token is valid but its actor may not perform this action.' },
  NOT_FOUND: { status: 404, description: 'No such route, job or resource.' },
  IDEMPOTENCY_CONFLICT: { status: 409, description: 'The Idempotency-Key was already used with a different request.' },
  SELF_APPROVAL: { status: 403, description: 'The requester of a change request cannot approve it: another operator must.' },
  CHANGE_REQUEST_STALE: { status: 409, description: 'The change request expired, or the state changed since it was made; make a new one.' },
  CHANGE_REQUEST_CLOSED: { status: 409, description: 'The change request was already rejected, cancelled, expired, made stale, or enqueued and executed.' },
  TARGET_NOT_ALLOWED: { status: 400, description: 'A notification target is, or resolves to, a private, loopback or link-local address that NOTIFICATION_ALLOWED_HOSTS does not name (or its host does not resolve).' },
  NOTIFICATIONS_NOT_CONFIGURED: { status: 409, description: 'Notification subscriptions need NOTIFICATION_SECRET_KEYS (required in production before the first subscription).' },
  NOT_A_WEBHOOK: { status: 409, description: 'Only a webhook subscription has a signing secret to rotate (a Slack subscription\'s secret is its URL: change the URL).' },
  JOB_NOT_RETRYABLE: { status: 409, description: 'Only a failed job can be retried, and not one whose failure is final (PRECONDITION_FAILED, SUPERSEDED, INVALID_PAYLOAD, EXPIRED, ENQUEUE_UNCONFIRMED).' },
  REQUEST_TIMEOUT: { status: 408, description: 'The request (headers and body) was not received within the request timeout; the connection is closed.' },
  PAYLOAD_TOO_LARGE: { status: 413, description: 'The request body exceeds the size limit.' },
  UNSUPPORTED_MEDIA_TYPE: { status: 415, description: 'The request body is not application/json.' },
  HEADERS_TOO_LARGE: { status: 431, description: 'The request headers exceed the size limit; the connection is closed.' },
  RATE_LIMITED: { status: 429, description: 'Too many requests for this token; retry after the indicated delay.' },
  INTERNAL_ERROR: { status: 500, description: 'An unexpected server error; details are in the server log under the request id.' },
  DEPENDENCY_UNAVAILABLE: { status: 503, description: 'PostgreSQL or Redis is unreachable; retry later.' },
  SHUTTING_DOWN: { status: 503, description: 'The server is draining for shutdown; retry on another instance.' },
  PRECONDITION_FAILED: { status: 409, description: 'A go-live enable was rejected: the details name each unmet condition.' },
  SUPERSEDED: { status: 409, description: 'A kill-switch release or go-live enable created before the latest applied engage or disable was rejected (audited, final, not retried).' },
  INVALID_PAYLOAD: { status: 400, description: 'A queued job payload failed validation (or its data exceeds 64 KiB); the job fails without retry.' },
  EXPIRED: { status: 409, description: 'A change was not applied within CHANGE_MAX_AGE_SECONDS of its creation (an outage outlasted it); rejected, audited, not retried. Engages and disables never expire.' },
  ENQUEUE_UNCONFIRMED: { status: 503, description: 'Redis did not confirm the enqueue of a change posted without an Idempotency-Key (the api answered 503): the api recorded its job id as void in PostgreSQL, so the change is never applied, even if the job reaches a worker later; submit it again.' },
  JOB_INTERRUPTED: { status: 503, description: 'BullMQ failed the job without a failure record of the worker (e.g. it stalled more often than allowed); not final, an operator may retry it.' },
  DATABASE_CONFLICT: { status: 409, description: 'A unique constraint rejected the write.' },
  DATABASE_RETRYABLE: { status: 503, description: 'A serialization failure, deadlock or lost connection; the operation may be retried.' },
  CONFIG_INVALID: { status: 500, description: 'An environment variable is missing or invalid; the process exits at startup.' },
  MIGRATION_CHAIN_INVALID: { status: 500, description: 'The revisions in migrations/ do not form one chain (missing link, two roots or two heads).' },
  MIGRATION_EDITED: { status: 500, description: 'An applied revision\'s files changed since it was applied (checksum mismatch).' },
  MIGRATION_UNKNOWN: { status: 500, description: 'The ledger holds a revision that the code does not know.' },
  MIGRATION_TARGET_UNKNOWN: { status: 500, description: 'The --to revision is not in the chain.' },
  MIGRATION_FAILED: { status: 500, description: 'A revision\'s SQL failed; its transaction was rolled back.' },
  MIGRATION_LOCK_TIMEOUT: { status: 500, description: 'Another runner held the migration lock for longer than the lock timeout.' },
  MIGRATION_BREAKING_UNKNOWN: { status: 500, description: 'The database has a breaking revision this code does not know: deploy code that knows it (older code must not run on it).' },
  MIGRATION_BUSY: { status: 500, description: 'A revision waited longer than its lock_timeout for a table lock; nothing was applied and the run may be retried.' },
  MIGRATION_ALEMBIC_UNKNOWN: { status: 500, description: 'alembic_version names a revision this chain does not know; the database is not adopted.' },
  MIGRATION_ALEMBIC_UNADOPTABLE: { status: 500, description: 'alembic_version names a revision of this chain that the Python service cannot have applied (only 20260113_golive_merge and 20260121_go_live_core_tables), or the tables of the revision it names are missing; the database is not adopted.' },
  MIGRATION_DOWN_REFUSED: { status: 500, description: 'A downgrade would drop tables holding rows; the message names them and their row counts.' },
  MIGRATION_NOTHING_TO_DO: { status: 500, description: 'stamp or repair found nothing to record (the revisions are already applied, or none is edited).' },
  MIGRATION_VERIFY_FAILED: { status: 500, description: 'A verify script or schema check failed.' },
} as const satisfies Record<string, { status: number; description: string }>;

export type ErrorCode = keyof typeof ERROR_CODES;

export const isErrorCode = (value: unknown): value is ErrorCode =>
  typeof value === 'string' && Object.hasOwn(ERROR_CODES, value);
