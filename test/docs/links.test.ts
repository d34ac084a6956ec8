import { existsSync, readdirSync, readFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { REPO_ROOT } from '../helpers/processes.js';

/**
 * Every relative link and image in the README and the documentation resolves: the file exists and, for a link into a
 * Markdown file, the heading its anchor names. External links (`https:` and the like) are not followed.
 */
const DOCUMENTS = [
  'README.md',
  ...readdirSync(join(REPO_ROOT, 'docs'))
    .filter((name) => name.endsWith('.md'))
    .map((name) => `docs/${name}`),
  'migrations/README.md',
  'apps/api/ERRORS.md',
  'bench/RESULTS.md',
  'packages/client/README.md',
];
const read = (path: string) => readFileSync(join(REPO_ROOT, path), 'utf8');

/** GitHub's heading anchors: lower case, punctuation dropped, spaces to hyphens. */
const anchorsOf = (markdown: string): Set<string> =>
  new Set(
    [...markdown.matchAll(/^#{1,6} (.+)$/gm)].map((match) =>
      (match[1] as string)
        .toLowerCase()
        .replace(/`/g, '')
        .replace(/[^\p{L}\p{N} _-]/gu, '')
        .replace(/ /g, '-'),
    ),
  );

/** Markdown outside fenced code blocks (a `](x)` inside a code sample is not a link). */
const prose = (markdown: string): string => markdown.replace(/^```[^\n]*\n[^]*?^```$/gm, '');

describe('links in the README and the docs', () => {
  it('finds links to check', () => {
    const links = DOCUMENTS.flatMap((document) => [...prose(read(document)).matchAll(/\]\(([^)\s]+)\)/g)]);
    expect(links.length).toBeGreaterThan(50);
  });

  it.each(DOCUMENTS)('%s: every relative link and anchor resolves', (document) => {
    const broken: string[] = [];
    for (const [, target] of prose(read(document)).matchAll(/\]\(([^)\s]+)\)/g)) {
      if (/^[a-z]+:/.test(target as string)) continue;
      const [path, anchor] = (target as string).split('#') as [string, string | undefined];
      const file = path === '' ? document : join(dirname(document), path);
      if (!existsSync(join(REPO_ROOT, file))) {
        broken.push(`${target as string}: no file ${file}`);
        continue;
      }
      if (anchor !== undefined && file.endsWith('.md') && !anchorsOf(read(file)).has(anchor)) broken.push(`${target as string}: no heading #${anchor} in ${file}`);
    }
    expect(broken).toEqual([]);
  });
});
