import { spawn, type ChildProcess } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { track } from './leaks.js';
import { waitFor } from './waitFor.js';

export const REPO_ROOT = fileURLToPath(new URL('../../', import.meta.url));

export type ManagedProcess = {
  child: ChildProcess;
  /** Everything written to stdout and stderr so far. */
  output: () => string;
  /** Parsed JSON log lines (pino) written so far. */
  logLines: () => Record<string, unknown>[];
  exited: Promise<{ code: number | null; signal: NodeJS.Signals | null }>;
  waitForOutput: (pattern: RegExp, timeoutMs?: number) => Promise<void>;
  stop: (signal?: NodeJS.Signals, timeoutMs?: number) => Promise<{ code: number | null; signal: NodeJS.Signals | null }>;
};

/**
 * Starts `node [nodeFlags] <script> ...args` from the repository root as a real child process (the built
 * entrypoints), with the environment given (merged over a minimal base), registered with the leak guard. `nodeFlags`
 * are Node's own options, e.g. the memory flags of the production start commands.
 */
export const startNodeProcess = (
  script: string,
  args: readonly string[],
  env: Record<string, string | undefined>,
  description = script,
  options: { nodeFlags?: readonly string[] } = {},
): ManagedProcess => {
  const child = spawn(process.execPath, [...(options.nodeFlags ?? []), script, ...args], {
    cwd: REPO_ROOT,
    env: { PATH: process.env.PATH, HOME: process.env.HOME, NODE_ENV: 'test', ...env },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let output = '';
  child.stdout?.on('data', (chunk: Buffer) => {
    output += chunk.toString();
  });
  child.stderr?.on('data', (chunk: Buffer) => {
    output += chunk.toString();
  });
  const exited = new Promise<{ code: number | null; signal: NodeJS.Signals | null }>((resolve) => {
    child.once('exit', (code, signal) => resolve({ code, signal }));
  });
  const isOpen = () => child.exitCode === null && child.signalCode === null;
  const stop = async (signal: NodeJS.Signals = 'SIGTERM', timeoutMs = 30_000) => {
    if (isOpen()) child.kill(signal);
    const timer = setTimeout(() => child.kill('SIGKILL'), timeoutMs);
    try {
      return await exited;
    } finally {
      clearTimeout(timer);
    }
  };
  const managed: ManagedProcess = {
    child,
    output: () => output,
    logLines: () =>
      output
        .split('\n')
        .filter((line) => line.startsWith('{'))
        .flatMap((line) => {
          try {
            return [JSON.parse(line) as Record<string, unknown>];
          } catch {
            return [];
          }
        }),
    exited,
    waitForOutput: async (pattern, timeoutMs = 20_000) => {
      await waitFor(() => pattern.test(output) || (!isOpen() ? Promise.reject(new Error(`${description} exited:\n${output}`)) : false), {
        timeoutMs,
        description: `${description} to print ${pattern}`,
      });
    },
    stop,
  };
  return track(managed, { description: `child process ${description}`, isOpen, close: () => stop('SIGKILL') });
};
