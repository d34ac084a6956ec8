import { readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';
import { ERROR_CODES } from '../../packages/core/src/index.js';

const doc = readFileSync(fileURLToPath(new URL('../../apps/api/ERRORS.md', import.meta.url)), 'utf8');

describe('apps/api/ERRORS.md', () => {
  it.each(Object.entries(ERROR_CODES))('documents %s with its status', (code, { status }) => {
    const row = doc.split('\n').find((line) => line.startsWith(`| \`${code}\` |`));
    expect(row, `${code} is missing from ERRORS.md`).toBeDefined();
    expect(row).toContain(`| ${status} |`);
  });

  it('documents no code that the registry does not have', () => {
    const documented = [...doc.matchAll(/^\| `([A-Z_]+)` \|/gm)].map((match) => match[1]);
    expect(documented.filter((code) => !Object.hasOwn(ERROR_CODES, code as string))).toEqual([]);
  });
});
