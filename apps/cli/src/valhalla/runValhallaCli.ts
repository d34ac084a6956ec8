import { ApiCallError, createApiClient, type ApiClient } from './apiClient.js';
import { keyValues, table } from './format.js';
import { parseArgs, stringOption, type ParsedArgs } from './parseArgs.js';
import { UsageError, validateArgs, waitTimeoutMs } from './validateArgs.js';

/** Exit codes scripts rely on. */
export const EXIT = { done: 0, error: 1, rejected: 2 } as const;

export const VALHALLA_USAGE = `usage: valhalla <command> [options]      (VALHALLA_API_URL, VALHALLA_TOKEN)
  status                                   runbook status: state, live, migrations, last verification, workers
  go-live enable|disable --reason TEXT     queue a go-live change
  kill-switch engage|release --reason TEXT queue a kill-switch change
  metadata [--version V] [--backend-complete true|false] [--notes TEXT] --reason TEXT
  verify [--release R]                     queue a post-deploy migration-verify run
  audit [--limit N] [--before ID]          audit log, newest first
  verifications [--limit N]                verification runs, newest first
  jobs <id> [--wait]                       a job's state, attempts, result or error (exit code as with --wait)
  retry <id> --reason TEXT                 send a failed job back to the queue
  migrate up|down|status|verify ...        the migration runner (uses DATABASE_URL, not the API)
  help, --help                             this text
options: --json (machine-readable output), --wait (block until the job finishes),
         --timeout SECONDS (with --wait, default 60)
exit codes: 0 done, 2 rejected by the state rules (PRECONDITION_FAILED), 1 any other error (API error, unreachable
            API, usage error, failed job, failed verification)`;

export type CliIo = { out: (text: string) => void; err: (text: string) => void };

export type CliOptions = {
  apiUrl: string;
  token: string | undefined;
  fetchImpl?: typeof fetch;
  /** The migrate subcommand, injected by the entrypoint (it needs DATABASE_URL, not the API). */
  migrate?: (args: readonly string[]) => Promise<number>;
  pollIntervalMs?: number;
};

type Job = { id: string; queue: string; name: string; state: string; attempts: number; result: unknown; error: { code?: string; message?: string; final?: boolean } | null };

const requireReason = (args: ParsedArgs): string => {
  const reason = stringOption(args, '--reason');
  if (reason === undefined || reason.length === 0) throw new UsageError('--reason TEXT is required (1-500 characters)');
  return reason;
};

const parseBoolean = (value: string | undefined, flag: string): boolean | undefined => {
  if (value === undefined) return undefined;
  if (value === 'true') return true;
  if (value === 'false') return false;
  throw new UsageError(`${flag} takes true or false`);
};

/** Reads of a finished job without its result or error tolerated before taking it as it is. */
const INCOMPLETE_FINISHED_READS = 3;

const waitForJob = async (api: ApiClient, id: string, timeoutMs: number, intervalMs: number): Promise<Job> => {
  const deadline = Date.now() + timeoutMs;
  let incompleteReads = 0;
  for (;;) {
    const job = await api.get<Job>(`/api/jobs/${encodeURIComponent(id)}`);
    if (job.state === 'completed' || job.state === 'failed') {
      // The API reads the job, then its state: a job finishing in between shows its final state with the data of
      // before (no error yet, no result yet). Read again rather than report a failure without its code.
      const complete = job.state === 'failed' ? job.error !== null : job.result !== null;
      incompleteReads += 1;
      if (complete || incompleteReads >= INCOMPLETE_FINISHED_READS) return job;
      await new Promise((resolve) => setTimeout(resolve, Math.min(intervalMs, 50)));
      continue;
    }
    if (Date.now() > deadline) throw new ApiCallError('WAIT_TIMEOUT', `job ${id} is still ${job.state} after ${timeoutMs / 1000} s`);
    await new Promise((resolve) => setTimeout(resolve, intervalMs));
  }
};

/** A finished job's exit code: a rejected change is 2; a failed job, or a verification run that failed, is 1. */
const jobExitCode = (job: Job): number => {
  if (job.state === 'failed') return job.error?.code === 'PRECONDITION_FAILED' || job.error?.code === 'EXPIRED' ? EXIT.rejected : EXIT.error;
  return (job.result as { passed?: unknown } | null)?.passed === false ? EXIT.error : EXIT.done;
};

const describeJob = (job: Job): string => {
  const result = job.result as { outcome?: string; passed?: boolean } | null;
  const outcome =
    job.state === 'failed'
      ? `${job.error?.code ?? 'FAILED'}: ${job.error?.message ?? ''}`
      : result?.outcome ?? (result?.passed === undefined ? job.state : result.passed ? 'passed' : 'failed');
  return keyValues([
    ['job', job.id],
    ['queue', `${job.queue} / ${job.name}`],
    ['state', job.state],
    ['attempts', job.attempts],
    ['outcome', outcome],
  ]);
};

/** The `valhalla` command line. Returns the exit code; never throws. */
export const runValhallaCli = async (argv: readonly string[], options: CliOptions, io: CliIo): Promise<number> => {
  const args = parseArgs(argv);
  const json = args.options.has('--json');
  const [command, sub] = args.positional;
  // migrate has its own options and usage: everything after the word goes to it untouched.
  if (command !== 'migrate' && (args.options.has('--help') || command === '-h')) {
    io.out(VALHALLA_USAGE);
    return EXIT.done;
  }
  const api = createApiClient({ baseUrl: options.apiUrl, token: options.token, ...(options.fetchImpl ? { fetchImpl: options.fetchImpl } : {}) });
  const print = (human: string, machine: unknown) => io.out(json ? JSON.stringify(machine, null, 2) : human);

  const enqueue = async (path: string, body: unknown, fallbackJobId?: string): Promise<number> => {
    const timeoutMs = waitTimeoutMs(stringOption(args, '--timeout'));
    const queued = await api.post<{ jobId?: string; status?: string }>(path, body);
    const jobId = queued?.jobId ?? fallbackJobId;
    if (jobId === undefined) throw new ApiCallError('BAD_RESPONSE', `POST ${path} answered without a jobId`);
    if (!args.options.has('--wait')) {
      print(`queued job ${jobId}`, queued);
      return EXIT.done;
    }
    const job = await waitForJob(api, jobId, timeoutMs, options.pollIntervalMs ?? 200);
    print(describeJob(job), job);
    return jobExitCode(job);
  };

  try {
    if (command !== undefined && command !== 'migrate') validateArgs(command, args);
    switch (command) {
      case undefined:
        // No command is a usage error: the usage goes to stderr, so scripts never parse it as output.
        io.err(VALHALLA_USAGE);
        return EXIT.error;
      case 'help':
        io.out(VALHALLA_USAGE);
        return EXIT.done;
      case 'migrate':
        if (options.migrate === undefined) throw new UsageError('migrate is not available here');
        return await options.migrate(argv.slice(argv.indexOf('migrate') + 1));
      case 'status': {
        const status = await api.get<Record<string, any>>('/api/governance/runbook/status');
        const state = status.go_live_state ?? {};
        const metadata = status.system_metadata ?? {};
        const verification = status.last_verification;
        print(
          keyValues([
            ['live', status.live],
            ['go_live_enabled', state.go_live_enabled],
            ['kill_switch_engaged', state.kill_switch_engaged],
            ['changed_by', state.changed_by],
            ['reason', state.reason],
            ['updated_at', state.updated_at],
            ['version', metadata.version],
            ['backend_complete', metadata.backend_complete],
            ['migration head', status.migrations?.head],
            ['pending revisions', (status.migrations?.pending ?? []).join(', ') || 'none'],
            ['last verification', verification ? `${verification.passed ? 'passed' : 'FAILED'} (${verification.release}, ${verification.finished_at})` : 'none'],
            ['workers alive', status.workers?.alive],
          ]),
          status,
        );
        return EXIT.done;
      }
      case 'go-live':
        if (sub !== 'enable' && sub !== 'disable') throw new UsageError('go-live takes enable or disable');
        return await enqueue('/api/governance/go-live', { enabled: sub === 'enable', reason: requireReason(args) });
      case 'kill-switch':
        if (sub !== 'engage' && sub !== 'release') throw new UsageError('kill-switch takes engage or release');
        return await enqueue('/api/governance/kill-switch', { engaged: sub === 'engage', reason: requireReason(args) });
      case 'metadata': {
        const body: Record<string, unknown> = { reason: requireReason(args) };
        const version = stringOption(args, '--version');
        const backendComplete = parseBoolean(stringOption(args, '--backend-complete'), '--backend-complete');
        const notes = stringOption(args, '--notes');
        if (version !== undefined) body.version = version;
        if (backendComplete !== undefined) body.backend_complete = backendComplete;
        if (notes !== undefined) body.notes = notes;
        if (Object.keys(body).length === 1) throw new UsageError('metadata needs --version, --backend-complete or --notes');
        return await enqueue('/api/governance/system-metadata', body);
      }
      case 'verify': {
        const release = stringOption(args, '--release');
        return await enqueue('/api/governance/verify', release === undefined ? {} : { release });
      }
      case 'audit': {
        const query = new URLSearchParams();
        for (const [flag, key] of [['--limit', 'limit'], ['--before', 'before']] as const) {
          const value = stringOption(args, flag);
          if (value !== undefined) query.set(key, value);
        }
        const page = await api.get<{ items: Record<string, unknown>[]; next: unknown }>(`/api/governance/audit${query.size > 0 ? `?${query}` : ''}`);
        print(`${table(page.items, ['id', 'created_at', 'actor', 'action', 'outcome', 'reason'])}${page.next === null ? '' : `\nnext: --before ${String(page.next)}`}`, page);
        return EXIT.done;
      }
      case 'verifications': {
        const limit = stringOption(args, '--limit');
        const page = await api.get<{ items: Record<string, unknown>[] }>(`/api/governance/verifications${limit === undefined ? '' : `?limit=${encodeURIComponent(limit)}`}`);
        print(table(page.items, ['id', 'finished_at', 'release', 'migration_head', 'passed', 'actor']), page);
        return EXIT.done;
      }
      case 'jobs': {
        if (sub === undefined) throw new UsageError('jobs takes a job id');
        const job = args.options.has('--wait')
          ? await waitForJob(api, sub, waitTimeoutMs(stringOption(args, '--timeout')), options.pollIntervalMs ?? 200)
          : await api.get<Job>(`/api/jobs/${encodeURIComponent(sub)}`);
        print(describeJob(job), job);
        return job.state === 'completed' || job.state === 'failed' ? jobExitCode(job) : EXIT.done;
      }
      case 'retry': {
        if (sub === undefined) throw new UsageError('retry takes a job id');
        // The job keeps its id when it goes back to the queue.
        return await enqueue(`/api/jobs/${encodeURIComponent(sub)}/retry`, { reason: requireReason(args) }, sub);
      }
      default:
        throw new UsageError(`unknown command ${command}`);
    }
  } catch (error) {
    if (error instanceof UsageError) {
      io.err(`${error.message}\n\n${VALHALLA_USAGE}`);
      return EXIT.error;
    }
    if (error instanceof ApiCallError) {
      if (json) io.out(JSON.stringify({ error: { code: error.code, message: error.message, details: error.details } }, null, 2));
      io.err(`${error.code}: ${error.message}`);
      return EXIT.error;
    }
    io.err(`valhalla: ${error instanceof Error ? error.message : String(error)}`);
    return EXIT.error;
  }
};
