import { ConfigError, type ErrorDetail } from '../../errors/index.js';

/**
 * Who reads a variable: the four processes of the product, the operator CLI, and Render (variables the platform reads
 * or provides, that no process of ours parses).
 */
export const READERS = ['api', 'worker', 'migrate', 'dev', 'cli', 'render'] as const;
export type Reader = (typeof READERS)[number];

/**
 * What a set value is parsed with: a zod schema, or a plain one. Plain ones keep the CLI's own variables free of zod,
 * which would add about a third of a second to every `npx valhalla` command.
 */
type Schema<T> = {
  safeParse(input: string): { success: true; data: T } | { success: false; error: { issues: readonly { message: string }[] } };
};

/** A value's schema and how the configuration reference describes its type. */
type Typed<T> = {
  /** Parses a set value (a string that is not blank); each issue's message follows the variable's name. */
  readonly schema: Schema<T>;
  readonly type: string;
};

type Described = {
  readonly readBy: readonly Reader[];
  /** One line for the configuration reference: what it does, and what goes with it. */
  readonly doc: string;
};

/** Unset (or blank) means undefined; `defaultText` says what the code does then (a default computed from others). */
type OptionalVariable<T> = Typed<T> & Described & { readonly kind: 'optional'; readonly defaultText: string | undefined };
/** Unset (or blank) means `default`. */
type DefaultedVariable<T> = Typed<T> & Described & { readonly kind: 'defaulted'; readonly default: T };
/** Unset (or blank) means the string `defaultFrom()` returns, parsed as if it had been set. */
type ComputedVariable<T> = Typed<T> & Described & { readonly kind: 'computed'; readonly defaultFrom: () => string; readonly defaultText: string };

export type Variable = OptionalVariable<unknown> | DefaultedVariable<unknown> | ComputedVariable<unknown>;
export type Variables = Readonly<Record<string, Variable>>;

/** The type a variable parses to: its schema's output, or undefined as well when it has no default. */
type ValueOf<V> = V extends OptionalVariable<infer T> ? T | undefined : V extends DefaultedVariable<infer T> | ComputedVariable<infer T> ? T : never;
export type Values<V extends Variables> = { readonly [K in keyof V]: ValueOf<V[K]> };

export const optional = <T>(definition: Typed<T> & Described & { defaultText?: string }): OptionalVariable<T> => ({
  kind: 'optional',
  defaultText: undefined,
  ...definition,
});

export const defaulted = <T>(definition: Typed<T> & Described & { default: NoInfer<T> }): DefaultedVariable<T> => ({
  kind: 'defaulted',
  ...definition,
});

export const computed = <T>(definition: Typed<T> & Described & { defaultFrom: () => string; defaultText: string }): ComputedVariable<T> => ({
  kind: 'computed',
  ...definition,
});

/** Any string: a plain schema (see Schema). */
export const text = (): Typed<string> => ({ schema: { safeParse: (input) => ({ success: true, data: input }) }, type: 'string' });

/** Blank counts as unset: a variable left empty in a dashboard or a compose file means "use the default". */
const isBlank = (value: string | undefined): value is undefined => value === undefined || value.trim() === '';

/** A variable's value from the environment; a problem per schema issue, naming the variable. */
const parseVariable = (name: string, variable: Variable, raw: string | undefined): { value: unknown; problems: ErrorDetail[] } => {
  const input = isBlank(raw) ? (variable.kind === 'computed' ? variable.defaultFrom() : undefined) : raw;
  if (input === undefined) return { value: variable.kind === 'defaulted' ? variable.default : undefined, problems: [] };
  const parsed = variable.schema.safeParse(input);
  if (parsed.success) return { value: parsed.data, problems: [] };
  return { value: undefined, problems: parsed.error.issues.map((issue) => ({ field: name, message: issue.message })) };
};

/**
 * Parses the variables of one or more sections (spread them into one object) from an environment.
 * @throws ConfigError naming every variable whose value is invalid.
 */
export const parseVariables = <V extends Variables>(env: Readonly<Record<string, string | undefined>>, variables: V): Values<V> => {
  const values: Record<string, unknown> = {};
  const problems: ErrorDetail[] = [];
  for (const [name, variable] of Object.entries(variables)) {
    const parsed = parseVariable(name, variable, env[name]);
    values[name] = parsed.value;
    problems.push(...parsed.problems);
  }
  if (problems.length > 0) throw new ConfigError(problems);
  return Object.freeze(values) as Values<V>;
};
