import { execFile } from 'node:child_process';
import { readdirSync, readFileSync } from 'node:fs';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { useTestDatabase } from '../helpers/database.js';
import { startLiveSystem, type LiveSystem } from '../helpers/liveSystem.js';
import { REPO_ROOT } from '../helpers/processes.js';

const run = promisify(execFile);

/**
 * Documentation snippets run as printed. A fenced block right after `<!-- runnable -->` in README.md or docs/*.md is
 * run against a real api and worker with VALHALLA_API_URL and VALHALLA_TOKEN (an app token) set, as the docs say:
 * python with python3 (clients/python on PYTHONPATH), bash with `bash -euo pipefail`, js as an ES module from the
 * repository root (so the repository's packages resolve). Every python and js block must say which it is: runnable,
 * or `<!-- not runnable: why -->`.
 */
const DOCUMENTS = ['README.md', ...readdirSync(join(REPO_ROOT, 'docs')).filter((name) => name.endsWith('.md')).map((name) => `docs/${name}`)];
const RUNNERS = ['python', 'bash', 'sh', 'shell', 'js', 'javascript'] as const;
type Language = (typeof RUNNERS)[number];
type Snippet = { document: string; line: number; language: Language; code: string };

const FENCE = /^```([\w-]*)\s*$/;
const blocks = DOCUMENTS.flatMap((document) => {
  const lines = readFileSync(join(REPO_ROOT, document), 'utf8').split('\n');
  const found: { document: string; line: number; language: string; code: string; marker: string | undefined }[] = [];
  for (let i = 0; i < lines.length; i += 1) {
    const open = FENCE.exec(lines[i] ?? '');
    if (open === null) continue;
    const end = lines.findIndex((line, index) => index > i && line.startsWith('```'));
    if (end < 0) throw new Error(`${document}:${i + 1}: unclosed code fence`);
    const previous = lines[i - 1]?.trim() ?? '';
    const marker = /^<!-- (runnable|not runnable: .+) -->$/.exec(previous)?.[1];
    found.push({ document, line: i + 1, language: open[1] ?? '', code: lines.slice(i + 1, end).join('\n'), marker });
    i = end;
  }
  return found;
});
const runnable: Snippet[] = blocks
  .filter((block) => block.marker === 'runnable')
  .map((block) => {
    if (!(RUNNERS as readonly string[]).includes(block.language)) throw new Error(`${block.document}:${block.line}: no runner for a runnable ${block.language || 'plain'} block`);
    return { ...block, language: block.language as Language };
  });

// At the top level, so that the system belongs to the file (a hook inside a describe runs after the first test).
const database = useTestDatabase();
let system: LiveSystem;
let work = '';
beforeAll(async () => {
  system = await startLiveSystem(database.current);
  work = await mkdtemp(join(tmpdir(), 'valhalla-snippets-'));
});
afterAll(async () => {
  await system.close();
  await rm(work, { recursive: true, force: true });
});

describe('documentation snippets', () => {
  it('marks every python and js block as runnable or says why not, and has runnable snippets of each kind', () => {
    const unmarked = blocks.filter((block) => ['python', 'js', 'javascript'].includes(block.language) && block.marker === undefined);
    expect(unmarked.map((block) => `${block.document}:${block.line}`)).toEqual([]);
    const kinds = new Set(runnable.map((snippet) => snippet.language));
    for (const kind of ['python', 'bash', 'js']) expect(kinds, kind).toContain(kind);
  });
});

describe('runnable documentation snippets against a real api', () => {
  it.each(runnable.map((snippet) => [`${snippet.document}:${snippet.line} (${snippet.language})`, snippet] as const))('%s', async (name, snippet) => {
    const env = {
      PATH: process.env.PATH,
      HOME: process.env.HOME,
      PYTHONPATH: join(REPO_ROOT, 'clients/python'),
      PYTHONDONTWRITEBYTECODE: '1',
      VALHALLA_API_URL: system.env.VALHALLA_API_URL,
      VALHALLA_TOKEN: system.env.VALHALLA_TOKEN,
    };
    const file = join(work, name.replace(/[^\w.-]+/g, '_'));
    let command: [string, string[], string];
    if (snippet.language === 'python') {
      await writeFile(`${file}.py`, snippet.code);
      command = ['python3', [`${file}.py`], work];
    } else if (snippet.language === 'js' || snippet.language === 'javascript') {
      command = [process.execPath, ['--input-type=module', '--eval', snippet.code], REPO_ROOT];
    } else {
      await writeFile(`${file}.sh`, snippet.code);
      command = ['bash', ['-euo', 'pipefail', `${file}.sh`], work];
    }
    const [program, args, cwd] = command;
    const result = await run(program, args, { cwd, env, timeout: 30_000 }).catch((error: { stdout?: string; stderr?: string; message: string }) => {
      throw new Error(`${name} failed:\n${snippet.code}\n--- stdout\n${error.stdout ?? ''}\n--- stderr\n${error.stderr ?? ''}\n${error.message}`);
    });
    // Every snippet prints what it shows, without a traceback or a warning of its own making.
    expect(result.stdout.trim().length, `${name} printed nothing`).toBeGreaterThan(0);
    expect(result.stderr).not.toMatch(/Traceback|Error/);
  }, 60_000);
});
