import type { ApiClient } from './apiClient.js';
import type { ParsedArgs } from './parseArgs.js';

/** Exit codes scripts rely on (documented in the usage text and docs/operations.md). */
export const EXIT = { done: 0, error: 1, rejected: 2, usage: 64 } as const;

/** A command line the CLI cannot run; printed with the command's usage, exit 64. */
export class UsageError extends Error {
  override readonly name = 'UsageError';
}

export type CliIo = { out: (text: string) => void; err: (text: string) => void };

export type Flag = { description: string; /** Takes a value (`--flag value` / `--flag=value`); else a switch. */ value?: string };

/** What a command's handler gets: its parsed arguments, the API (created on first use), output helpers. */
export type CommandContext = {
  args: ParsedArgs;
  /** The positional words after the command name. */
  words: readonly string[];
  json: boolean;
  io: CliIo;
  api: () => ApiClient;
  print: (human: string, machine: unknown) => void;
  option: (flag: string) => string | undefined;
  pollIntervalMs: number;
  migrate: ((args: readonly string[]) => Promise<number>) | undefined;
};

/** One CLI command: its words, flags and usage in one place, next to its handler. */
export type Command = {
  name: string;
  /** e.g. `enable|disable --reason TEXT`: shown after the name in the usage. */
  synopsis: string;
  summary: string;
  /** Positional words after the name: exact count, or `rest` to pass everything on untouched (migrate). */
  words: number | 'rest';
  flags: Readonly<Record<string, Flag>>;
  run: (context: CommandContext) => Promise<number>;
};

export const WAIT_FLAGS: Readonly<Record<string, Flag>> = {
  '--wait': { description: 'block until the job finishes; the exit code is its outcome' },
  '--timeout': { description: 'with --wait, give up after SECONDS (default 60)', value: 'SECONDS' },
};

export const REASON_FLAG: Readonly<Record<string, Flag>> = {
  '--reason': { description: 'why (1-500 characters), recorded in the audit log', value: 'TEXT' },
};

export const requireOption = (context: CommandContext, flag: string, what: string): string => {
  const value = context.option(flag);
  if (value === undefined || value.length === 0) throw new UsageError(`${flag} ${what} is required`);
  return value;
};
