import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { REPO_ROOT } from '../helpers/processes.js';

/**
 * The README is the front door: its first block is the two commands, they are the ones package.json defines and CI
 * runs (.ci/run runs `npm ci`, then exactly the README's test command), and it stays a few screens long (details
 * belong in docs/, figures in bench/RESULTS.md, run history in git).
 */
const readme = readFileSync(join(REPO_ROOT, 'README.md'), 'utf8');
const ci = readFileSync(join(REPO_ROOT, '.ci/run'), 'utf8');
const scripts = (JSON.parse(readFileSync(join(REPO_ROOT, 'package.json'), 'utf8')) as { scripts: Record<string, string> }).scripts;

/** The commands of the README's first fenced block, comments dropped. */
const firstBlockCommands = (): string[] => {
  const block = /^```\w*\n([^]*?)^```$/m.exec(readme)?.[1] ?? '';
  return block
    .split('\n')
    .map((line) => line.replace(/\s+#.*$/, '').trim())
    .filter((line) => line !== '');
};

describe('README.md', () => {
  it('opens with the two commands: start everything, run the tests', () => {
    expect(readme.split('\n').findIndex((line) => line.startsWith('```'))).toBeLessThan(5);
    expect(firstBlockCommands()).toEqual(['npm ci && npm run dev', 'npm test']);
    expect(Object.keys(scripts)).toEqual(expect.arrayContaining(['dev', 'test']));
  });

  it('gives CI the same test command', () => {
    const ciCommands = ci.split('\n').map((line) => line.trim());
    expect(ciCommands).toContain('npm ci --no-audit --no-fund');
    expect(ciCommands.filter((line) => /^npm test\b/.test(line))).toEqual(['npm test || status=$?']);
  });

  it('fits a few screens', () => {
    expect(readme.split('\n').length).toBeLessThanOrEqual(250);
  });
});
