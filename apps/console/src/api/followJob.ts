import { ApiError } from './ApiError.js';
import { readJob } from './calls.js';
import type { JobView } from './types.js';

const POLL_MS = 250;
const GIVE_UP_MS = 30_000;

/**
 * Reads a job until it completes or fails (or GIVE_UP_MS passes: it is then still queued, which is an answer too).
 * @throws ApiError from the api, e.g. DEPENDENCY_UNAVAILABLE.
 */
export const followJob = async (id: string, onUpdate: (job: JobView) => void): Promise<JobView> => {
  const deadline = Date.now() + GIVE_UP_MS;
  for (;;) {
    let job: JobView;
    try {
      job = await readJob(id);
    } catch (error) {
      // An engage or disable applied in the request, or a replay, answered "completed" straight away and may never have been a queued job.
      if (error instanceof ApiError && error.code === 'NOT_FOUND') throw new ApiError('NOT_FOUND', `job ${id} is not known to the api`, 404);
      throw error;
    }
    onUpdate(job);
    if (job.state === 'completed' || job.state === 'failed' || Date.now() > deadline) return job;
    await new Promise((resolve) => setTimeout(resolve, POLL_MS));
  }
};
