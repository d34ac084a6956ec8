import { z } from 'zod';

// The value types the reference names: each schema written once, with the words that describe it.

export const integer = (min: number, max: number) => ({
  schema: z.coerce.number().int().min(min).max(max),
  type: `integer ${min}–${max}`,
});

export const oneOf = <const T extends readonly [string, ...string[]]>(values: T, message?: string) => ({
  schema: message === undefined ? z.enum(values) : z.enum(values, { error: message }),
  type: `one of ${values.join(', ')}`,
});
