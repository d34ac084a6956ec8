import { changeRejectionFailure, changeResult, findExecutedJob, type JobFailure } from '@valhalla/core';
import type { FastifyInstance } from 'fastify';
import type { ZodTypeProvider } from 'fastify-type-provider-zod';
import { callDatabase, callRedis } from '../dependencyCalls.js';
import type { ApiDependencies } from '../dependencies.js';
import { ApiError } from '../errors.js';
import { jobResponse, JOB_STATES, readErrors } from '../responseSchemas.js';
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

/**
 * A job that has left Redis, from its stored execution in PostgreSQL. A rejected change failed (its record says why);
 * `attempts` is 1: the execution that committed (the earlier, rolled-back attempts are not stored).
 */
const answerFromDatabase = async (deps: ApiDependencies, id: string): Promise<JobAnswer | undefined> => {
  const executed = await callDatabase(() => findExecutedJob(deps.pool, id));
  if (executed === null) return undefined;
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
    // While Redis is unavailable, a job that executed is still known to PostgreSQL (the break-glass ones included).
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
