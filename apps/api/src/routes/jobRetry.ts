import { JOB_RETRY_CONDITIONS, recordJobRetry, recordJobRetryFailure, type JobRetryCondition } from '@valhalla/core';
import { jobAccepted, type AuditEntry } from '@valhalla/contract';
import type { FastifyInstance, FastifyRequest } from 'fastify';
import type { ZodTypeProvider } from 'fastify-type-provider-zod';
import { requirePrincipal } from '../auth.js';
import { callDatabase, callRedis } from '../dependencyCalls.js';
import type { ApiDependencies } from '../dependencies.js';
import { ApiError } from '../errors.js';
import { errorResponses } from '../responseSchemas.js';
import { jobParams, jobRetryBody } from '../schemas.js';
import { toPublicState } from './jobs.js';

/** Looks the job up, bounded (never its data), with its BullMQ state. @throws ApiError DEPENDENCY_UNAVAILABLE. */
const findWithState = (deps: ApiDependencies, id: string) =>
  callRedis('read job', async () => {
    const summary = await deps.queues.readJob(id);
    return summary === undefined ? undefined : { state: summary.state, failure: summary.failure };
  });

/**
 * POST /api/jobs/:id/retry `{"reason"}`: moves a job of the failed set back to waiting, audited.
 *
 * Order: the audit entry is committed first (its own transaction, which holds no Redis call), then the job is
 * retried. An audit log that misses an action that happened is worse than one that records an attempt that did
 * not: if the retry then fails (the job left the failed set in between, or Redis went away), a second, linked entry
 * with outcome `rejected` names the unmet condition, and the client gets 409 or 503.
 */
export const jobRetryRoutes = async (scope: FastifyInstance, deps: ApiDependencies): Promise<void> => {
  const app = scope.withTypeProvider<ZodTypeProvider>();
  const rateLimit = { max: deps.config.rateLimitPerMinute, timeWindow: 60_000 };
  const schema = {
    summary: 'Retry a failed job (audited as job.retry)',
    tags: ['jobs'],
    params: jobParams,
    body: jobRetryBody,
    response: { 202: jobAccepted, ...errorResponses(400, 401, 404, 409, 413, 415, 429, 503) },
  };

  app.post('/jobs/:id/retry', { schema, config: { rateLimit } }, async (request, reply) => {
    const { actor } = requirePrincipal(request);
    const { id } = request.params;
    const found = await findWithState(deps, id);
    const state = found === undefined ? undefined : toPublicState(found.state);
    if (found === undefined || state === undefined) throw new ApiError('NOT_FOUND', `no job with id ${id}`);
    if (state !== 'failed') throw notRetryable(id, state);
    // A final failure (rejection, invalid payload, expiry) is final for this job id: the worker would replay the
    // stored outcome. The operator submits a new change instead.
    if (found.failure?.final === true) {
      throw new ApiError('JOB_NOT_RETRYABLE', `job ${id} failed with ${found.failure.code}, which a retry cannot change; submit a new change`);
    }

    const recorded = await callDatabase(() =>
      recordJobRetry(deps.pool, { targetJobId: id, actor, reason: request.body.reason, requestId: request.id }, deps.config.auditKeyring),
    );
    try {
      await retryFailedJob(deps, id);
    } catch (error) {
      await noteFailedRetry(deps, request, recorded, id, error);
    }
    request.log.info({ jobId: id, actor, auditId: recorded.id }, 'job retried');
    reply.code(202);
    return { jobId: id, status: 'queued' as const };
  });
};

const notRetryable = (id: string, state: string) =>
  new ApiError('JOB_NOT_RETRYABLE', `job ${id} is ${state}; only a job in the failed set can be retried`);

/**
 * Back to waiting with its attempts counted from zero, so the job's retry policy (backoff, attempts) applies again.
 * @throws whatever BullMQ throws: the job is no longer in the failed set, or Redis is unreachable.
 */
const retryFailedJob = async (deps: ApiDependencies, id: string): Promise<void> => {
  await callRedis('retry job', async () => {
    // Loaded whole only here: a job in the failed set whose failure is not final passed the worker's size bound.
    const job = await deps.queues.findJob(id);
    if (job === undefined) throw new Error(`job ${id} left the queue`);
    await job.retry('failed', { resetAttemptsMade: true, resetAttemptsStarted: true });
  });
};

/**
 * After a failed retry: find out why (the job's current state, if Redis answers), append the linked `rejected`
 * entry (best effort: its own failure is logged, never hides the answer), and answer 409 or 503.
 * @throws ApiError JOB_NOT_RETRYABLE, NOT_FOUND or DEPENDENCY_UNAVAILABLE, always.
 */
const noteFailedRetry = async (
  deps: ApiDependencies,
  request: FastifyRequest,
  recorded: AuditEntry,
  id: string,
  error: unknown,
): Promise<never> => {
  const now = await findWithState(deps, id).catch(() => null);
  const state = now === null || now === undefined ? undefined : (toPublicState(now.state) ?? 'removed');
  const reachable = now !== null;
  const unmet: JobRetryCondition = reachable && state !== 'failed' ? JOB_RETRY_CONDITIONS.jobFailed : JOB_RETRY_CONDITIONS.queueReachable;
  try {
    await recordJobRetryFailure(deps.pool, recorded, unmet, deps.config.auditKeyring);
  } catch (auditError) {
    request.log.error({ err: auditError, jobId: id, auditId: recorded.id }, 'could not record the failed job retry in the audit log');
  }
  request.log.warn({ err: error, jobId: id, auditId: recorded.id, unmet }, 'job retry failed after it was audited');
  if (unmet === JOB_RETRY_CONDITIONS.queueReachable) throw new ApiError('DEPENDENCY_UNAVAILABLE', 'Redis is unavailable; retry later', { cause: error });
  if (now === undefined) throw new ApiError('NOT_FOUND', `no job with id ${id}`);
  throw notRetryable(id, state ?? 'removed');
};
