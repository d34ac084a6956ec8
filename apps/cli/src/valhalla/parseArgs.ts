/** Positional words and `--flag value` / `--flag=value` / boolean `--flag` options. */
export type ParsedArgs = { positional: string[]; options: Map<string, string | true> };

const BOOLEAN_FLAGS = new Set(['--json', '--wait', '--help', '--paused', '--skip-backlog']);

export const parseArgs = (argv: readonly string[]): ParsedArgs => {
  const positional: string[] = [];
  const options = new Map<string, string | true>();
  for (let i = 0; i < argv.length; i += 1) {
    const arg = argv[i] as string;
    if (!arg.startsWith('--')) {
      positional.push(arg);
      continue;
    }
    const equals = arg.indexOf('=');
    if (equals > 0) options.set(arg.slice(0, equals), arg.slice(equals + 1));
    else if (BOOLEAN_FLAGS.has(arg) || i + 1 >= argv.length || (argv[i + 1] as string).startsWith('--')) options.set(arg, true);
    else {
      options.set(arg, argv[i + 1] as string);
      i += 1;
    }
  }
  return { positional, options };
};

export const stringOption = (args: ParsedArgs, name: string): string | undefined => {
  const value = args.options.get(name);
  return typeof value === 'string' ? value : undefined;
};
