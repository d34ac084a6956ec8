import { findAcceptance, findExecutedJob } from '@valhalla/core';
import { JOB_STATES, changeRejectionFailure, changeResult, isErrorCode, jobFailureOf, jobResponse, type JobFailure } from '@valhalla/contract';
import type { FastifyInstance } from 'fastify';
import type { ZodTypeProvider } from 'fastify-type-provider-zod';
import { callDatabase, callRedis } from '../dependencyCalls.js';
import type { ApiDependencies } from '../dependencies.js';
import { ApiError } from '../errors.js';
import { readErrors } from '../responseSchemas.js';
import { jobParams } from '../schemas.js';

/** The states the contract exposes. */
export type PublicJobState = (typeof JOB_STATES)[number];

/** BullMQ's states, folded onto the contract's: a prioritised or parent-waiting job is still waiting. */
export const toPublicState = (state: string): PublicJobState | undefined => {
  switch (state) {
    case 'waiting':
    case 'wait':
    case 'prioritized':
    case 'waiting-children':
      return 'waiting';
    case 'delayed':
    case 'active':
    case 'completed':
    case 'failed':
      return state;
    default:
      return undefined;
  }
};

type JobAnswer = {
  id: string;
  queue: string;
  name: string;
  state: PublicJobState;
  attempts: number;
  result: unknown;
  error: JobFailure | null;
};

/** The failure record of an accepted job that ended without an execution: voided by the api, or failed for good. */
const acceptanceFailure = (acceptance: { voidedAt: string | null; settledAs: string | null }): JobFailure | null => {
  if (acceptance.voidedAt !== null) {
    return jobFailureOf('ENQUEUE_UNCONFIRMED', 'the api could not confirm the acceptance of this job and answered 503: it never runs; submit it again');
  }
  const code = acceptance.settledAs?.startsWith('failed:') === true ? acceptance.settledAs.slice('failed:'.length) : undefined;
  if (code === undefined) return null;
  return code === 'INTERNAL_ERROR' || !isErrorCode(code)
    ? jobFailureOf('INTERNAL_ERROR', 'the job failed for good; see the worker log')
    : { code, message: 'the job failed for good', final: true };
};

/**
 * A job that has left Redis (or that Redis does not answer for), from PostgreSQL: its stored execution (a rejected
 * change failed: its record says why; `attempts` 1, the execution that committed), or else its acceptance record: a
 * job accepted and not executed yet is `waiting` (Redis lost it, or is down: the reconciler enqueues it again).
 */
const answerFromDatabase = async (deps: ApiDependencies, id: string): Promise<JobAnswer | undefined> => {
  const executed = await callDatabase(() => findExecutedJob(deps.pool, id));
  if (executed !== null) {
    const change = changeResult.safeParse(executed.result);
    const failure = change.success ? changeRejectionFailure(change.data) : null;
    return {
      id,
      queue: executed.queue,
      name: executed.jobName,
      state: failure === null ? 'completed' : 'failed',
      attempts: 1,
      result: executed.result,
      error: failure,
    };
  }
  const accepted = await callDatabase(() => findAcceptance(deps.pool, id));
  if (accepted === null) return undefined;
  const failure = acceptanceFailure(accepted);
  return { id, queue: accepted.queue, name: accepted.jobName, state: failure === null ? 'waiting' : 'failed', attempts: 0, result: null, error: failure };
};

/**
 * GET /api/jobs/:id: a job on either queue, with its state, attempts, result and failure record, read bounded (never
 * the job's data: see readJobSummary); once the job has left Redis, from PostgreSQL.
 */
export const jobRoutes = async (scope: FastifyInstance, deps: ApiDependencies): Promise<void> => {
  const app = scope.withTypeProvider<ZodTypeProvider>();
  const schema = {
    summary: 'A job on either queue, with its state, attempts, result and failure record',
    tags: ['jobs'],
    params: jobParams,
    response: { 200: jobResponse, ...readErrors(404) },
  };
  app.get('/jobs/:id', { schema }, async (request) => {
    const { id } = request.params;
    // While Redis is unavailable, a job that executed is still known to PostgreSQL (engages and disables applied in the request included).
    let summary: Awaited<ReturnType<ApiDependencies['queues']['readJob']>>;
    try {
      summary = await callRedis('read job', () => deps.queues.readJob(id));
    } catch (error) {
      const stored = await answerFromDatabase(deps, id);
      if (stored === undefined) throw error;
      return stored;
    }
    const state = summary === undefined ? undefined : toPublicState(summary.state);
    if (summary !== undefined && state !== undefined) {
      return {
        id: summary.id,
        queue: summary.queue,
        name: summary.name,
        state,
        attempts: summary.attemptsMade,
        result: summary.result,
        error: state === 'failed' ? summary.failure : null,
      };
    }
    const stored = await answerFromDatabase(deps, id);
    if (stored === undefined) throw new ApiError('NOT_FOUND', `no job with id ${id}`);
    return stored;
  });
};
