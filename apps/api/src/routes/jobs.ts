import type { FastifyInstance } from 'fastify';
import type { ZodTypeProvider } from 'fastify-type-provider-zod';
import { callRedis } from '../dependencyCalls.js';
import type { ApiDependencies } from '../dependencies.js';
import { ApiError, parseFailedReason } from '../errors.js';
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

/** GET /api/jobs/:id: a job on either queue, with its state, attempts, result and error. */
export const jobRoutes = async (scope: FastifyInstance, deps: ApiDependencies): Promise<void> => {
  const app = scope.withTypeProvider<ZodTypeProvider>();
  const schema = {
    summary: 'A job on either queue, with its state, attempts, result and error',
    tags: ['jobs'],
    params: jobParams,
    response: { 200: jobResponse, ...readErrors(404) },
  };
  app.get('/jobs/:id', { schema }, async (request) => {
    const { id } = request.params;
    const found = await callRedis('find job', async () => {
      const job = await deps.queues.findJob(id);
      if (job === undefined) return undefined;
      const state = await job.getState();
      // The job's fields were read before its state: one that finished in between is read again, so a finished
      // state never comes without its result or error.
      const finishedMeanwhile = (state === 'completed' || state === 'failed') && job.finishedOn === undefined;
      return { job: finishedMeanwhile ? ((await deps.queues.findJob(id)) ?? job) : job, state };
    });
    // 'unknown': removed between the lookup and the state read.
    const state = found === undefined ? undefined : toPublicState(found.state);
    if (found === undefined || state === undefined) throw new ApiError('NOT_FOUND', `no job with id ${id}`);
    const { job } = found;
    const failedReason = typeof job.failedReason === 'string' && job.failedReason.length > 0 ? job.failedReason : undefined;
    return {
      id: job.id ?? id,
      queue: job.queueName,
      name: job.name,
      state,
      attempts: job.attemptsMade,
      result: job.returnvalue ?? null,
      error: failedReason === undefined ? null : parseFailedReason(failedReason),
    };
  });
};
