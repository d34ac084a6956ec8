import { describe, expect, it } from 'vitest';
import { DatabaseConflictError, RetryableDatabaseError } from '../errors/index.js';
import { isRetryableDatabaseError, sqlstateOf, toDatabaseError } from './sqlstate.js';

const serverError = (code: string) => Object.assign(new Error(`server said ${code}`), { code, severity: 'ERROR' });
const socketError = (code: string) => Object.assign(new Error(`socket ${code}`), { code });

describe('SQLSTATE classification', () => {
  it('reads the SQLSTATE of a server error through its causes', () => {
    expect(sqlstateOf(new Error('wrapped', { cause: serverError('40P01') }))).toBe('40P01');
  });

  it('does not take a five-letter socket code such as EPIPE for a SQLSTATE, and retries it', () => {
    expect(sqlstateOf(socketError('EPIPE'))).toBeUndefined();
    expect(isRetryableDatabaseError(new Error('write failed', { cause: socketError('EPIPE') }))).toBe(true);
    expect(toDatabaseError(socketError('ECONNREFUSED'))).toBeInstanceOf(RetryableDatabaseError);
  });

  it.each(['40001', '40P01', '57P01', '08006', '53300', '55P03'])('retries %s', (code) => {
    expect(isRetryableDatabaseError(serverError(code))).toBe(true);
  });

  it.each(['23503', '42P01', '22P02', 'P0001'])('does not retry %s', (code) => {
    expect(isRetryableDatabaseError(serverError(code))).toBe(false);
  });

  it('turns a unique violation into DatabaseConflictError naming the constraint', () => {
    const error = toDatabaseError(Object.assign(serverError('23505'), { constraint: 'idempotency_keys_pkey' }));
    expect(error).toBeInstanceOf(DatabaseConflictError);
    expect((error as DatabaseConflictError).constraint).toBe('idempotency_keys_pkey');
  });
});
