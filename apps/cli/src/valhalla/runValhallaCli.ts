import { ApiCallError, createApiClient, type ApiClient } from './apiClient.js';
import { EXIT, UsageError, type CliIo, type Command, type CommandContext } from './command.js';
import { COMMANDS } from './commands/index.js';
import { parseArgs, stringOption } from './parseArgs.js';

export type { CliIo } from './command.js';

const GLOBAL_FLAGS = ['--json', '--help'];

const commandUsage = (command: Command): string => {
  const head = `  ${command.name}${command.synopsis === '' ? '' : ` ${command.synopsis}`}`;
  return `${head.padEnd(72)} ${command.summary}`;
};

const USAGE = [
  'usage: valhalla <command> [options]      (VALHALLA_API_URL, VALHALLA_TOKEN; inside the project during npm run dev',
  '                                          both default to the dev API and token)',
  ...COMMANDS.map(commandUsage),
  '  help, --help, <command> --help            usage; --version: the CLI version',
  'options: --json (machine-readable output), --wait (block until the job finishes), --timeout SECONDS (with --wait)',
  'exit codes: 0 done, 1 error (API error, unreachable API, failed job or verification), 2 rejected (PRECONDITION_FAILED,',
  '            SUPERSEDED, ENQUEUE_UNCONFIRMED, INVALID_PAYLOAD), 64 usage error',
].join('\n');

const helpFor = (command: Command): string =>
  [
    `usage: valhalla ${command.name}${command.synopsis === '' ? '' : ` ${command.synopsis}`}`,
    `  ${command.summary}`,
    ...Object.entries(command.flags).map(([flag, spec]) => `  ${`${flag}${spec.value === undefined ? '' : ` ${spec.value}`}`.padEnd(28)} ${spec.description}`),
    `  ${'--json'.padEnd(28)} machine-readable output`,
  ].join('\n');

export type CliOptions = {
  apiUrl: string;
  /** Undefined: commands that call the API fail naming VALHALLA_TOKEN. */
  token: string | undefined;
  /** Where apiUrl and token came from, for messages (e.g. "the running npm run dev"). */
  source?: string;
  version: string;
  fetchImpl?: typeof fetch;
  /** The migrate subcommand, injected by the entrypoint (it needs DATABASE_URL, not the API). */
  migrate?: (args: readonly string[]) => Promise<number>;
  pollIntervalMs?: number;
};

/**
 * Rejects what would otherwise be silently ignored: an option the command does not take (a typo such as `--wiat`
 * must not turn a blocking call into a fire-and-forget one), an option missing its value, missing or extra words.
 */
const validate = (command: Command, words: readonly string[], options: ReadonlyMap<string, string | true>): void => {
  for (const [flag, value] of options) {
    if (GLOBAL_FLAGS.includes(flag)) continue;
    const spec = command.flags[flag];
    if (spec === undefined) throw new UsageError(`${command.name} does not take ${flag}`);
    if (spec.value !== undefined && value === true) throw new UsageError(`${flag} needs a value (${spec.value})`);
  }
  if (command.words === 'rest') return;
  if (words.length > command.words) throw new UsageError(`unexpected argument ${JSON.stringify(words[command.words])} for ${command.name}`);
  if (words.length < command.words) throw new UsageError(`${command.name} needs ${command.synopsis.split(' ')[0] ?? 'an argument'}`);
};

/** The API's error details (e.g. `[{field, message}]`), one line each. */
const describeDetails = (details: unknown): string[] => {
  if (details === undefined || details === null) return [];
  const items = Array.isArray(details) ? details : [details];
  return items.map((item) => {
    if (typeof item === 'object' && item !== null) {
      const record = item as Record<string, unknown>;
      const field = typeof record['field'] === 'string' ? record['field'] : typeof record['path'] === 'string' ? record['path'] : undefined;
      const message = typeof record['message'] === 'string' ? record['message'] : JSON.stringify(item);
      return `  ${field === undefined ? '' : `${field}: `}${message}`;
    }
    return `  ${String(item)}`;
  });
};

/** The `valhalla` command line. Returns the exit code; never throws. */
export const runValhallaCli = async (argv: readonly string[], options: CliOptions, io: CliIo): Promise<number> => {
  const [first] = argv;
  // migrate has its own options and usage: everything after the word goes to it untouched.
  const args = first === 'migrate' ? { positional: [...argv], options: new Map<string, string | true>() } : parseArgs(argv);
  const json = args.options.has('--json');
  const [name, ...words] = args.positional;
  if (argv.length === 1 && (first === '--version' || first === '-v')) {
    io.out(options.version);
    return EXIT.done;
  }
  const command = COMMANDS.find((candidate) => candidate.name === name);
  if (args.options.has('--help') || name === 'help' || first === '-h') {
    io.out(command === undefined ? USAGE : helpFor(command));
    return EXIT.done;
  }

  let api: ApiClient | undefined;
  const context: CommandContext = {
    args,
    words,
    json,
    io,
    api: () => {
      if (options.token === undefined || options.token === '') {
        throw new ApiCallError(
          'MISSING_TOKEN',
          'VALHALLA_TOKEN is not set. Export an operator token from the API\'s GOVERNANCE_TOKENS (the part after "actor:"),\n' +
            '  e.g. export VALHALLA_TOKEN=…; inside the project, a running npm run dev provides its own.',
        );
      }
      api ??= createApiClient({ baseUrl: options.apiUrl, token: options.token, ...(options.fetchImpl ? { fetchImpl: options.fetchImpl } : {}) });
      return api;
    },
    print: (human, machine) => io.out(json ? JSON.stringify(machine, null, 2) : human),
    option: (flag) => stringOption(args, flag),
    pollIntervalMs: options.pollIntervalMs ?? 200,
    migrate: options.migrate,
  };

  try {
    if (name === undefined) throw new UsageError('no command given');
    if (command === undefined) throw new UsageError(`unknown command ${name}`);
    validate(command, words, args.options);
    return await command.run(command.words === 'rest' ? { ...context, words: argv.slice(1) } : context);
  } catch (error) {
    if (error instanceof UsageError) {
      io.err(`${error.message}\n\n${command === undefined ? USAGE : helpFor(command)}`);
      return EXIT.usage;
    }
    if (error instanceof ApiCallError) {
      if (json) io.out(JSON.stringify({ error: { code: error.code, message: error.message, details: error.details } }, null, 2));
      const where = error.code === 'UNREACHABLE' && options.source !== undefined ? ` (API from ${options.source})` : '';
      io.err([`${error.code}: ${error.message}${where}`, ...describeDetails(error.details)].join('\n'));
      return EXIT.error;
    }
    io.err(`valhalla: ${error instanceof Error ? error.message : String(error)}`);
    return EXIT.error;
  }
};
