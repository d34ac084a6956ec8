import type { JobBody as Job } from '@valhalla/contract';
import { EXIT, WAIT_FLAGS, type Command } from '../command.js';
import { describeJob, jobExitCode, waitForJob, waitTimeoutMs } from '../jobs.js';

export const jobsCommand: Command = {
  name: 'jobs',
  synopsis: '<id> [--wait]',
  summary: "a job's state, attempts, result or error (a finished job's exit code as with --wait)",
  words: 1,
  flags: WAIT_FLAGS,
  run: async ({ api, args, words, option, print, pollIntervalMs }) => {
    const id = words[0] as string;
    const job = args.options.has('--wait')
      ? await waitForJob(api(), id, waitTimeoutMs(option('--timeout')), pollIntervalMs)
      : await api().get<Job>(`/api/jobs/${encodeURIComponent(id)}`);
    print(describeJob(job), job);
    return job.state === 'completed' || job.state === 'failed' ? jobExitCode(job) : EXIT.done;
  },
};
