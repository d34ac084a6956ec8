import { readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';
import { ERROR_CODES, OFREP_ERROR_CODES } from '../../packages/contract/src/index.js';

const doc = readFileSync(fileURLToPath(new URL('../../apps/api/ERRORS.md', import.meta.url)), 'utf8');
// The OFREP section (last in the file) documents the OFREP registry; everything before it, the contract's.
const ofrepStart = doc.indexOf('\n## OFREP');
const contractDoc = doc.slice(0, ofrepStart);
const ofrepDoc = doc.slice(ofrepStart);

const rowOf = (text: string, code: string) => text.split('\n').find((line) => line.startsWith(`| \`${code}\` |`));
const documentedCodes = (text: string) => [...text.matchAll(/^\| `([A-Z_]+)` \|/gm)].map((match) => match[1] as string);

describe('apps/api/ERRORS.md', () => {
  it('has an OFREP section after the contract\'s codes', () => {
    expect(ofrepStart).toBeGreaterThan(0);
  });

  it.each(Object.entries(ERROR_CODES))('documents %s with its status', (code, { status }) => {
    const row = rowOf(contractDoc, code);
    expect(row, `${code} is missing from ERRORS.md`).toBeDefined();
    expect(row).toContain(`| ${status} |`);
  });

  it('documents no code that the registry does not have', () => {
    expect(documentedCodes(contractDoc).filter((code) => !Object.hasOwn(ERROR_CODES, code))).toEqual([]);
  });

  it.each(Object.entries(OFREP_ERROR_CODES))('documents the OFREP code %s with its status', (code, { status }) => {
    const row = rowOf(ofrepDoc, code);
    expect(row, `${code} is missing from the OFREP section of ERRORS.md`).toBeDefined();
    expect(row).toContain(`| ${status} |`);
  });

  it('documents no OFREP code that the OFREP registry does not have', () => {
    expect(documentedCodes(ofrepDoc).filter((code) => !Object.hasOwn(OFREP_ERROR_CODES, code))).toEqual([]);
  });
});
