import { execFile } from 'node:child_process';
import { mkdir, mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ALICE, useApi } from '../api/support.js';
import { REPO_ROOT } from '../helpers/processes.js';

const run = promisify(execFile);
const api = useApi();
let base = '';
let work = '';

beforeAll(async () => {
  base = await api.current.app.listen({ port: 0, host: '127.0.0.1' });
  work = await mkdtemp(join(tmpdir(), 'valhalla-client-pack-'));
});
afterAll(async () => {
  if (work !== '') await rm(work, { recursive: true, force: true });
});

type Packed = { filename: string; files: { path: string }[] };

/** `npm pack` of a folder into the work folder; npm runs the package's prepack (its build) first. */
const pack = async (folder: string): Promise<Packed> => {
  const packed = await run('npm', ['pack', '--json', '--pack-destination', work], { cwd: folder, timeout: 60_000 });
  const [info] = JSON.parse(packed.stdout) as Packed[];
  return info!;
};

describe('the @valhalla/client tarball', () => {
  it('installs offline into an empty project with the contract it depends on, with types, and keeps the state there', async () => {
    // The client takes its response types from @valhalla/contract, packed alongside; the contract's one dependency,
    // zod, is packed from this repository's install so that nothing is fetched.
    const [client, contract, zod] = await Promise.all([
      pack(join(REPO_ROOT, 'packages/client')),
      pack(join(REPO_ROOT, 'packages/contract')),
      pack(join(REPO_ROOT, 'node_modules/zod')),
    ]);
    for (const [info, expected] of [
      [client, ['README.md', 'dist/index.js', 'dist/index.d.ts', 'package.json']],
      [contract, ['dist/index.js', 'dist/index.d.ts', 'package.json']],
    ] as const) {
      const files = info.files.map((file) => file.path).sort();
      expect(files).toEqual(expect.arrayContaining([...expected]));
      expect(files.filter((path) => path.startsWith('src/') || path.endsWith('.map') || path.endsWith('.test.js'))).toEqual([]);
    }

    // An empty folder: no package.json, nothing installed. npm creates what it needs.
    const project = join(work, 'consumer');
    await mkdir(project);
    const tarballs = [client, contract, zod].map((info) => join(work, info.filename));
    await run('npm', ['install', '--offline', '--no-audit', '--no-fund', ...tarballs], { cwd: project, timeout: 60_000 });
    const installed = JSON.parse(await readFile(join(project, 'package-lock.json'), 'utf8')) as { packages: Record<string, unknown> };
    expect(Object.keys(installed.packages).sort()).toEqual(['', 'node_modules/@valhalla/client', 'node_modules/@valhalla/contract', 'node_modules/zod']);
    const manifest = JSON.parse(await readFile(join(project, 'node_modules/@valhalla/client/package.json'), 'utf8')) as Record<string, unknown>;
    // Never published: `private` keeps an `npm publish` from putting it on a registry where the scope is not ours.
    expect(manifest).toMatchObject({ name: '@valhalla/client', private: true, type: 'module' });
    expect(manifest.dependencies).toEqual({ '@valhalla/contract': '0.1.0' });

    await writeFile(
      join(project, 'check.ts'),
      `import { createGoLiveClient, type GoLiveState } from '@valhalla/client';
const client = createGoLiveClient({ url: 'http://127.0.0.1:1', token: 't', failClosedAfterMs: 1000 });
const live: boolean = client.isLive();
const state: GoLiveState | undefined = client.state();
client.on('change', (next: GoLiveState) => console.log(next.version, live, state?.ageMs));
// The body's type is the contract's: the api never sends a null version.
const version: number | undefined = state?.version;
console.log(version);
`,
    );
    // The types resolve for both module resolutions an application may use.
    for (const [module, moduleResolution] of [['nodenext', 'nodenext'], ['esnext', 'bundler']]) {
      await writeFile(
        join(project, 'tsconfig.json'),
        JSON.stringify({ compilerOptions: { strict: true, noEmit: true, module, moduleResolution, target: 'es2022', types: [] }, files: ['check.ts'] }),
      );
      await run(process.execPath, [join(REPO_ROOT, 'node_modules/typescript/bin/tsc'), '-p', project], { cwd: project, timeout: 60_000 });
    }

    // No "type": "module" in the application's package.json: an .mjs file imports the ES module.
    await writeFile(
      join(project, 'main.mjs'),
      `import { createGoLiveClient } from '@valhalla/client';
const client = createGoLiveClient({ url: process.env.VALHALLA_URL, token: process.env.VALHALLA_TOKEN });
await client.ready();
const { version, live, transport } = client.state();
console.log(JSON.stringify({ version, live, transport, isLive: client.isLive() }));
await client.close();
`,
    );
    const output = await run(process.execPath, ['main.mjs'], {
      cwd: project,
      timeout: 20_000,
      env: { PATH: process.env.PATH, VALHALLA_URL: base, VALHALLA_TOKEN: ALICE.token },
    });
    const live = await api.current.app.inject({ url: '/api/governance/live', headers: { authorization: `Bearer ${ALICE.token}` } });
    expect(JSON.parse(output.stdout)).toEqual({ version: live.json().version, live: live.json().live, transport: 'stream', isLive: live.json().live });
  }, 240_000);
});
