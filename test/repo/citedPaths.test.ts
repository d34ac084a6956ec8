import { execFileSync } from 'node:child_process';
import { existsSync, readFileSync } from 'node:fs';
import { basename, dirname, join, relative, resolve } from 'node:path';
import ts from 'typescript';
import { describe, expect, it } from 'vitest';
import { REPO_ROOT } from '../helpers/processes.js';

/**
 * A comment or a document that names a file of the repository names one that exists: a stale path sends a reader
 * nowhere. The repository is self-contained: nothing cites a file outside it (the external contract is documented in
 * docs/). Comments of .ts/.tsx/.js/.cjs files are read; .md and .yaml files are read whole.
 */
const CODE = /\.(?:ts|tsx|js|cjs|mjs)$/;
const DOCUMENT = /\.(?:md|ya?ml)$/;
const EXTENSIONS = 'ts|tsx|js|cjs|mjs|md|ya?ml|json|sql|sh|py|toml|html|css|txt';
/**
 * A path: optional ./ or ../ steps, folders, a file name with a known extension. Not part of a longer word, glob,
 * placeholder (`<revision>/up.sql`), dotted key or call (`res.json()`): those are not citations of one file.
 */
const PATH = new RegExp(`(?<![\\w.@/<>*{}$~:\\\\-])((?:\\.{1,2}/)*(?:[\\w@-][\\w.@-]*/)*[\\w-][\\w.-]*\\.(?:${EXTENSIONS}))(?![\\w/(-])`, 'g');
/** Names of files that live outside the repository and must not be cited even without a path. */
// Spelled in parts so that this file does not cite them itself.
const CONTRACT_FILE = ['CONTRACT', 'md'].join('.');
const SHARED_DIR = ['..', 'shared'].join('/');
const OUTSIDE = [
  new RegExp(`\\b${CONTRACT_FILE.replace('.', '\\.')}\\b`),
  new RegExp(`${SHARED_DIR.replace(/\./g, '\\.')}\\b`),
  new RegExp(`\\b${['FIELD', 'NOTES'].join('-')}\\b`),
  new RegExp(`/work/${'shared'}\\b`),
];
const URL_PATTERN = /\b[a-z][\w+.-]*:\/\/\S+/gi;
/** Product names, not files: "Node.js" and the like. */
const PRODUCT_NAME = /^[A-Z][A-Za-z]*\.js$/;
/** Files of the reader's own project that the docs tell them to edit, not files of this repository. */
const READERS_FILES = new Set(['alertmanager.yml', 'wsgi.py']);

const git = (args: string[], input?: string): string => execFileSync('git', args, { cwd: REPO_ROOT, encoding: 'utf8', input, maxBuffer: 64 * 1024 * 1024 });
/** Tracked files and new ones not ignored: what a clone has. */
const repoFiles = git(['ls-files', '--cached', '--others', '--exclude-standard', '-z'])
  .split('\0')
  .filter((path) => path !== '' && existsSync(join(REPO_ROOT, path)));
const repoFileSet = new Set(repoFiles);
const basenames = new Set(repoFiles.map((path) => basename(path)));

/** Those of `paths` that git ignores (check-ignore exits 1 when it ignores none). */
const ignoredByGit = (paths: string[]): Set<string> => {
  try {
    return new Set(git(['check-ignore', '--no-index', '--stdin'], `${paths.join('\n')}\n`).split('\n').filter((line) => line !== ''));
  } catch (error) {
    if ((error as { status?: unknown }).status === 1) return new Set();
    throw error;
  }
};

/** The comments of a script, found by the TypeScript parser (so that strings and regular expressions are skipped). */
const commentsOf = (path: string, text: string): { text: string; offset: number }[] => {
  const source = ts.createSourceFile(path, text, ts.ScriptTarget.Latest, false, path.endsWith('.tsx') ? ts.ScriptKind.TSX : ts.ScriptKind.TS);
  const seen = new Map<number, { text: string; offset: number }>();
  const collect = (ranges: readonly ts.CommentRange[] | undefined) => {
    for (const range of ranges ?? []) seen.set(range.pos, { text: text.slice(range.pos, range.end), offset: range.pos });
  };
  const visit = (node: ts.Node) => {
    collect(ts.getLeadingCommentRanges(text, node.pos));
    collect(ts.getTrailingCommentRanges(text, node.end));
    ts.forEachChild(node, visit);
  };
  visit(source);
  collect(ts.getLeadingCommentRanges(text, source.endOfFileToken.pos));
  return [...seen.values()];
};

type Citation = { file: string; line: number; cited: string };

const citationsIn = (file: string): Citation[] => {
  const text = readFileSync(join(REPO_ROOT, file), 'utf8');
  const parts = CODE.test(file) ? commentsOf(file, text) : [{ text, offset: 0 }];
  return parts.flatMap((part) => {
    const lineOf = (index: number) => text.slice(0, part.offset + index).split('\n').length;
    const withoutUrls = part.text.replace(URL_PATTERN, (url) => ' '.repeat(url.length));
    const outside = OUTSIDE.flatMap((pattern) => {
      const match = pattern.exec(withoutUrls);
      return match === null ? [] : [{ file, line: lineOf(match.index), cited: match[0] }];
    });
    const paths = [...withoutUrls.matchAll(PATH)].map((match) => ({ file, line: lineOf(match.index), cited: match[1] as string }));
    return [...outside, ...paths];
  });
};

/** Build output and dependencies are not in a clone; they are named by what builds or installs them. */
const isBuiltOrInstalled = (path: string) => /(?:^|\/)(?:dist|node_modules)\//.test(path);

/**
 * Whether `cited` names a file of the repository: relative to the citing file when it starts with ./ or ../ (and
 * then inside the repository), else from the root, the citing file's folder, or as the tail of a repository path (a
 * comment inside a package may name a file from the package's src/); a bare name is any file of that name.
 */
const exists = ({ file, cited }: Citation, generated: Set<string>): boolean => {
  if (OUTSIDE.some((pattern) => pattern.test(cited))) return false;
  if (isBuiltOrInstalled(cited) || PRODUCT_NAME.test(cited) || READERS_FILES.has(cited)) return true;
  const fromFile = relative(REPO_ROOT, resolve(REPO_ROOT, dirname(file), cited));
  if (cited.startsWith('../') || cited.startsWith('./')) {
    if (fromFile.startsWith('..')) return false;
    const fromRoot = relative(REPO_ROOT, resolve(REPO_ROOT, cited));
    return [fromFile, fromRoot].some((path) => repoFileSet.has(path) || generated.has(path));
  }
  if (!cited.includes('/')) return basenames.has(cited) || generated.has(cited) || generated.has(fromFile);
  return repoFileSet.has(cited) || repoFileSet.has(fromFile) || generated.has(cited) || generated.has(fromFile) || repoFiles.some((path) => path.endsWith(`/${cited}`));
};

describe('files cited by comments and documents', () => {
  it('exist in the repository, and none is outside it', () => {
    const citations = repoFiles.filter((file) => CODE.test(file) || DOCUMENT.test(file)).flatMap(citationsIn);
    // Files the build, a run or a tool writes (git ignores them): bench/results.json, .dev/banner.txt, …
    const candidates = [...new Set(citations.flatMap(({ file, cited }) => [cited, relative(REPO_ROOT, resolve(REPO_ROOT, dirname(file), cited))]))];
    const ignored = ignoredByGit(candidates.filter((path) => !path.startsWith('.')));
    const missing = [...new Set(citations.filter((citation) => !exists(citation, ignored)).map(({ file, line, cited }) => `${file}:${line}: ${cited}`))];
    expect(missing).toEqual([]);
  });
});

describe('the citation check itself', () => {
  it('reads paths in comments, not in code, and refuses missing files and files outside the repository', () => {
    const script = [
      "import { x } from './missing-import.js'; // see apps/api/src/nope.ts",
      "const path = 'apps/worker/src/not-a-comment.ts';",
      '/** As ../elsewhere/NOTES.md says; docs/operations.md exists. */',
    ].join('\n');
    const cited = commentsOf('example.ts', script).flatMap((comment) => [...comment.text.matchAll(PATH)].map((match) => match[1]));
    expect(cited).toEqual(['apps/api/src/nope.ts', '../elsewhere/NOTES.md', 'docs/operations.md']);
    const verdicts = cited.map((path) => exists({ file: 'docs/example.md', line: 1, cited: path as string }, new Set()));
    expect(verdicts).toEqual([false, false, true]);
    // The names of files outside the repository are refused by name too, wherever they are cited from.
    expect(exists({ file: 'docs/example.md', line: 1, cited: CONTRACT_FILE }, new Set())).toBe(false);
    expect(exists({ file: 'docs/example.md', line: 1, cited: [SHARED_DIR, 'NOTES.md'].join('/') }, new Set())).toBe(false);
  });
});
