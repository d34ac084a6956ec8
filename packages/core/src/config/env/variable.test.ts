import { describe, expect, it } from 'vitest';
import { ConfigError } from '../../errors/index.js';
import { migrateVariables } from './migrate.js';
import { integer, oneOf } from './schemas.js';
import { computed, defaulted, optional, parseVariables, text } from './variable.js';

const variables = {
  COUNT: defaulted({ ...integer(1, 10), default: 3, readBy: ['worker'], doc: 'a count' }),
  MODE: defaulted({ ...oneOf(['a', 'b']), default: 'a', readBy: ['api'], doc: 'a mode' }),
  NAME: optional({ ...text(), readBy: ['api'], doc: 'a name' }),
  WHO: computed({ ...integer(0, 100), defaultFrom: () => '42', defaultText: 'the answer', readBy: ['cli'], doc: 'who' }),
};

const problemsOf = (env: Record<string, string>) => {
  try {
    parseVariables(env, variables);
  } catch (error) {
    if (error instanceof ConfigError) return error.details;
    throw error;
  }
  throw new Error('expected a ConfigError');
};

describe('parseVariables', () => {
  it('gives each unset variable its default (undefined for an optional one), frozen', () => {
    const values = parseVariables({}, variables);
    expect(values).toEqual({ COUNT: 3, MODE: 'a', NAME: undefined, WHO: 42 });
    expect(Object.isFrozen(values)).toBe(true);
  });

  it('counts a blank value as unset', () => {
    expect(parseVariables({ COUNT: '', MODE: '  ', NAME: ' ', WHO: '' }, variables)).toEqual({ COUNT: 3, MODE: 'a', NAME: undefined, WHO: 42 });
  });

  it('parses set values with their schema', () => {
    expect(parseVariables({ COUNT: '7', MODE: 'b', NAME: 'x', WHO: '5' }, variables)).toEqual({ COUNT: 7, MODE: 'b', NAME: 'x', WHO: 5 });
  });

  it('names every invalid variable in one ConfigError', () => {
    expect(problemsOf({ COUNT: '11', MODE: 'c', WHO: 'many' })?.map((problem) => problem.field)).toEqual(['COUNT', 'MODE', 'WHO']);
  });

  it('refuses a migrate actor with a line break and takes the OS user when unset', () => {
    expect(() => parseVariables({ MIGRATION_ACTOR: 'ops\nroot' }, migrateVariables)).toThrow(/MIGRATION_ACTOR: must be a one-line name/);
    expect(parseVariables({}, migrateVariables).MIGRATION_ACTOR).toMatch(/^(os:.+|unknown)$/);
    expect(() => parseVariables({ MIGRATION_LOCK_TIMEOUT_MS: '0' }, migrateVariables)).toThrow(/MIGRATION_LOCK_TIMEOUT_MS: must be a positive whole number of milliseconds/);
  });
});
