import { readdirSync, readFileSync, statSync } from 'node:fs';
import { dirname, join, relative, resolve, sep } from 'node:path';
import ts from 'typescript';
import { describe, expect, it } from 'vitest';
import { REPO_ROOT } from '../helpers/processes.js';

/**
 * Data flows one way between the folders of packages/core/src: a folder that imports another is never imported back,
 * directly or through a third. Checked on the imports the TypeScript pre-processor finds (static, re-exports,
 * dynamic), between top-level folders; the files at the root (index.ts) count as the folder `.`.
 */
const CORE_SRC = join(REPO_ROOT, 'packages/core/src');
const CONTRACT_SRC = join(REPO_ROOT, 'packages/contract/src');

const sourceFiles = (dir: string): string[] =>
  readdirSync(dir).flatMap((name) => {
    const path = join(dir, name);
    if (statSync(path).isDirectory()) return sourceFiles(path);
    return name.endsWith('.ts') && !name.endsWith('.test.ts') && !name.endsWith('.d.ts') ? [path] : [];
  });

const folderOf = (root: string, file: string): string => {
  const parts = relative(root, file).split(sep);
  return parts.length === 1 ? '.' : (parts[0] as string);
};

/** The file a relative specifier names (a `.js` specifier names the `.ts` file on disk; a folder, its index.ts). */
const resolveSpecifier = (from: string, specifier: string): string | undefined => {
  if (!specifier.startsWith('.')) return undefined;
  const target = resolve(dirname(from), specifier).replace(/\.js$/, '.ts');
  for (const candidate of [target, `${target}.ts`, join(target, 'index.ts')]) {
    try {
      if (statSync(candidate).isFile()) return candidate;
    } catch {
      // Not this candidate.
    }
  }
  throw new Error(`${relative(REPO_ROOT, from)} imports ${specifier}, which is not a file`);
};

/** Folder → folders it imports (itself excluded), with one importing file per edge for the failure message. */
const folderGraph = (root: string): Map<string, Map<string, string>> => {
  const graph = new Map<string, Map<string, string>>();
  for (const file of sourceFiles(root)) {
    const from = folderOf(root, file);
    const edges = graph.get(from) ?? new Map<string, string>();
    graph.set(from, edges);
    for (const imported of ts.preProcessFile(readFileSync(file, 'utf8'), true, true).importedFiles) {
      const target = resolveSpecifier(file, imported.fileName);
      if (target === undefined || !target.startsWith(`${root}${sep}`)) continue;
      const to = folderOf(root, target);
      if (to !== from && !edges.has(to)) edges.set(to, relative(REPO_ROOT, file));
    }
  }
  return graph;
};

/** Strongly connected components of more than one folder (Tarjan): every folder of one reaches every other. */
const cycles = (graph: Map<string, Map<string, string>>): string[][] => {
  const index = new Map<string, number>();
  const low = new Map<string, number>();
  const stack: string[] = [];
  const found: string[][] = [];
  const visit = (node: string) => {
    index.set(node, index.size);
    low.set(node, index.get(node) as number);
    stack.push(node);
    for (const next of graph.get(node)?.keys() ?? []) {
      if (!index.has(next)) {
        visit(next);
        low.set(node, Math.min(low.get(node) as number, low.get(next) as number));
      } else if (stack.includes(next)) {
        low.set(node, Math.min(low.get(node) as number, index.get(next) as number));
      }
    }
    if (low.get(node) === index.get(node)) {
      const component: string[] = [];
      for (let member = stack.pop(); member !== undefined; member = member === node ? undefined : stack.pop()) component.push(member);
      if (component.length > 1) found.push(component.sort());
    }
  };
  for (const node of graph.keys()) if (!index.has(node)) visit(node);
  return found;
};

describe('packages/core/src folders', () => {
  it('import each other one way only (no folder-level cycle), at every depth', () => {
    // Each folder's children (its subfolders, and its own files as `.`) form one graph.
    const folders = (dir: string): string[] => [dir, ...readdirSync(dir).flatMap((name) => (statSync(join(dir, name)).isDirectory() ? folders(join(dir, name)) : []))];
    const unexpected = folders(CORE_SRC).flatMap((root) => {
      const graph = folderGraph(root);
      return cycles(graph).map((cycle) => {
        const edges = cycle.flatMap((from) => cycle.filter((to) => graph.get(from)?.has(to)).map((to) => `${from} → ${to} (${graph.get(from)?.get(to)})`));
        return `${relative(CORE_SRC, root) || '.'}: ${cycle.join(' ↔ ')}: ${edges.join('; ')}`;
      });
    });
    expect(unexpected).toEqual([]);
  });

  it('finds a cycle when there is one (the check itself works)', () => {
    const graph = new Map([
      ['a', new Map([['b', 'a.ts']])],
      ['b', new Map([['c', 'b.ts']])],
      ['c', new Map([['a', 'c.ts']])],
      ['d', new Map([['a', 'd.ts']])],
    ]);
    expect(cycles(graph)).toEqual([['a', 'b', 'c']]);
  });
});

describe('packages/contract', () => {
  it('imports nothing of ours: only its own files and zod (and node: built-ins)', () => {
    const outside = sourceFiles(CONTRACT_SRC).flatMap((file) =>
      ts
        .preProcessFile(readFileSync(file, 'utf8'), true, true)
        .importedFiles.map((imported) => imported.fileName)
        .filter((specifier) => {
          if (specifier.startsWith('.')) return !(resolveSpecifier(file, specifier) ?? '').startsWith(CONTRACT_SRC);
          return specifier !== 'zod' && !specifier.startsWith('zod/') && !specifier.startsWith('node:');
        })
        .map((specifier) => `${relative(REPO_ROOT, file)} imports ${specifier}`),
    );
    expect(sourceFiles(CONTRACT_SRC).length).toBeGreaterThan(5);
    expect(outside).toEqual([]);
  });
});
