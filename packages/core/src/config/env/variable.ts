import { z } from 'zod';
import { ConfigError, type ErrorDetail } from '../../errors/index.js';

/**
 * Who reads a variable: the four processes of the product, the operator CLI, and Render (variables the platform reads
 * or provides, that no process of ours parses).
 */
export const READERS = ['api', 'worker', 'migrate', 'dev', 'cli', 'render'] as const;
export type Reader = (typeof READERS)[number];

/** A value's schema and how the configuration reference describes its type. */
type Typed<S extends z.ZodType> = {
  /** Parses a set value (a string that is not blank); each issue's message follows the variable's name. */
  readonly schema: S;
  readonly type: string;
};

type Described = {
  readonly readBy: readonly Reader[];
  /** One line for the configuration reference: what it does, and what goes with it. */
  readonly doc: string;
};

/** Unset (or blank) means undefined; `defaultText` says what the code does then (a default computed from others). */
type OptionalVariable<S extends z.ZodType> = Typed<S> & Described & { readonly kind: 'optional'; readonly defaultText: string | undefined };
/** Unset (or blank) means `default`. */
type DefaultedVariable<S extends z.ZodType> = Typed<S> & Described & { readonly kind: 'defaulted'; readonly default: z.output<S> };
/** Unset (or blank) means the string `defaultFrom()` returns, parsed as if it had been set. */
type ComputedVariable<S extends z.ZodType> = Typed<S> &
  Described & { readonly kind: 'computed'; readonly defaultFrom: () => string; readonly defaultText: string };

export type Variable = OptionalVariable<z.ZodType> | DefaultedVariable<z.ZodType> | ComputedVariable<z.ZodType>;
export type Variables = Readonly<Record<string, Variable>>;

/** The type a variable parses to: its schema's output, or undefined as well when it has no default. */
type ValueOf<V> = V extends { kind: 'optional'; schema: infer S extends z.ZodType }
  ? z.output<S> | undefined
  : V extends { schema: infer S extends z.ZodType }
    ? z.output<S>
    : never;
export type Values<V extends Variables> = { readonly [K in keyof V]: ValueOf<V[K]> };

export const optional = <S extends z.ZodType>(definition: Typed<S> & Described & { defaultText?: string }): OptionalVariable<S> => ({
  kind: 'optional',
  defaultText: undefined,
  ...definition,
});

export const defaulted = <S extends z.ZodType>(definition: Typed<S> & Described & { default: z.output<S> }): DefaultedVariable<S> => ({
  kind: 'defaulted',
  ...definition,
});

export const computed = <S extends z.ZodType>(
  definition: Typed<S> & Described & { defaultFrom: () => string; defaultText: string },
): ComputedVariable<S> => ({ kind: 'computed', ...definition });

// The value types the reference names: each schema written once, with the words that describe it.
export const text = (): Typed<z.ZodString> => ({ schema: z.string(), type: 'string' });
export const integer = (min: number, max: number) => ({
  schema: z.coerce.number().int().min(min).max(max),
  type: `integer ${min}–${max}`,
});
export const oneOf = <const T extends readonly [string, ...string[]]>(values: T, message?: string) => ({
  schema: message === undefined ? z.enum(values) : z.enum(values, { error: message }),
  type: `one of ${values.join(', ')}`,
});

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
