import { createHash } from 'node:crypto';
import { claimIdempotencyKey, type DatabasePool, type KeyClaim } from '@valhalla/core';
import { type QueueName } from '@valhalla/contract';
import type { FastifyRequest } from 'fastify';
import { callDatabase } from './dependencyCalls.js';
import { ApiError } from './errors.js';

/** 1–200 printable ASCII characters, not starting or ending with a space. */
const KEY_PATTERN = /^[\x21-\x7E](?:[\x20-\x7E]{0,198}[\x21-\x7E])?$/;

/**
 * The request's Idempotency-Key, or undefined when it sent none.
 * @throws ApiError VALIDATION_FAILED when the header is present but malformed.
 */
export const readIdempotencyKey = (request: FastifyRequest): string | undefined => {
  const value = request.headers['idempotency-key'];
  if (value === undefined) return undefined;
  if (typeof value !== 'string' || !KEY_PATTERN.test(value)) {
    throw new ApiError('VALIDATION_FAILED', 'the Idempotency-Key header is malformed', {
      details: [{ field: 'Idempotency-Key', message: 'must be 1-200 printable ASCII characters' }],
    });
  }
  return value;
};

/** JSON with object keys sorted at every level, so that field order does not change a request's hash. */
const canonicalJson = (value: unknown): string => {
  if (Array.isArray(value)) return `[${value.map(canonicalJson).join(',')}]`;
  if (value !== null && typeof value === 'object') {
    const entries = Object.entries(value as Record<string, unknown>)
      .filter(([, item]) => item !== undefined)
      .sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0));
    return `{${entries.map(([key, item]) => `${JSON.stringify(key)}:${canonicalJson(item)}`).join(',')}}`;
  }
  return JSON.stringify(value) ?? 'null';
};

const sha256Hex = (text: string) => createHash('sha256').update(text, 'utf8').digest('hex');

/** What makes two requests "the same": method, route and body (canonical JSON). */
const requestHash = (method: string, route: string, body: unknown): string =>
  sha256Hex(`${method} ${route}\n${canonicalJson(body ?? {})}`);

/** A request's Idempotency-Key with what makes two requests the same (method, route, body). */
export type RequestKey = { key: string; method: string; route: string; body: unknown };

/** The claim a keyed request makes in PostgreSQL: the key and the hash of the request it is bound to. */
export const claimOf = (key: RequestKey | undefined): KeyClaim | undefined =>
  key === undefined ? undefined : { key: key.key, requestHash: requestHash(key.method, key.route, key.body), route: key.route };

/** The request's key, as the acceptance path takes it (undefined when it sent none). */
export const requestKeyOf = (request: FastifyRequest, body: unknown): RequestKey | undefined => {
  const key = readIdempotencyKey(request);
  return key === undefined ? undefined : { key, method: request.method, route: request.routeOptions.url ?? request.url, body };
};

/**
 * The job id of a keyed request: a function of actor and key only, so racing requests with one key all enqueue the
 * same BullMQ job id (BullMQ keeps one job per id) whichever of them wins the database claim.
 */
export const keyedJobId = (actor: string, key: string): string => `idem-${sha256Hex(`${actor}\u0000${key}`)}`;

/**
 * Claims `key` for this request in PostgreSQL (the durable record: it outlives the BullMQ job) and returns the job
 * id to enqueue under; on a replay, also the result of that job when it already executed (else null).
 * @throws ApiError IDEMPOTENCY_CONFLICT when the key was used for another request; DEPENDENCY_UNAVAILABLE when
 *   PostgreSQL is down.
 */
export const claimJobIdForKey = async (
  pool: DatabasePool,
  claim: { actor: string; key: string; method: string; route: string; queue: QueueName; body: unknown },
): Promise<{ jobId: string; replayed: boolean; executedResult: unknown }> => {
  const hash = requestHash(claim.method, claim.route, claim.body);
  const { record, created, executedResult } = await callDatabase(() =>
    claimIdempotencyKey(pool, {
      actor: claim.actor,
      key: claim.key,
      requestHash: hash,
      route: claim.route,
      queue: claim.queue,
      jobId: keyedJobId(claim.actor, claim.key),
    }),
  );
  if (!created && record.request_hash !== hash) {
    throw new ApiError('IDEMPOTENCY_CONFLICT', 'this Idempotency-Key was already used with a different request');
  }
  return { jobId: record.job_id, replayed: !created, executedResult };
};
