import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { chmod, mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { track } from '../helpers/leaks.js';
import { REPO_ROOT } from '../helpers/processes.js';
import { waitFor } from '../helpers/waitFor.js';

/**
 * A user's first minutes, for real: the committed HEAD cloned into a folder with nothing beside it,
 * `npm ci`, then the README's commands: `npm run dev` to healthy, `npm run migrate -- status` and `npx valhalla
 * status` against it, Ctrl-C. The clone's parent is 0700 so that, run as root (CI, containers), dev must make its
 * data folder reachable for the postgres OS user.
 */
const parent = await mkdtemp(join(tmpdir(), 'valhalla-clone-'));
const clone = join(parent, 'valhalla');

/** The environment of a new user's shell: none of the test suite's database, Redis or token settings. */
const userEnv = (): NodeJS.ProcessEnv => {
  const env: NodeJS.ProcessEnv = { ...process.env, LOG_LEVEL: 'info' };
  for (const key of Object.keys(env)) {
    if (/^(DATABASE_URL|REDIS_URL|GOVERNANCE_TOKENS|PORT|VALHALLA_|BULLMQ_PREFIX|QUEUE_PREFIX|REDIS_|NODE_ENV|VITEST|TEST_)/.test(key)) delete env[key];
  }
  return env;
};

const run = (command: string, args: string[], timeoutMs: number) => {
  const result = spawnSync(command, args, { cwd: clone, env: userEnv(), encoding: 'utf8', timeout: timeoutMs });
  return { status: result.status, stdout: result.stdout, stderr: result.stderr, all: `${result.stdout}\n${result.stderr}` };
};

afterAll(async () => {
  await rm(parent, { recursive: true, force: true });
});

describe('a fresh clone', () => {
  it('installs with npm ci and runs the README commands: dev to healthy, migrate status, valhalla status, Ctrl-C', async () => {
    await chmod(parent, 0o700);
    const head = spawnSync('git', ['rev-parse', 'HEAD'], { cwd: REPO_ROOT, encoding: 'utf8' }).stdout.trim();
    const cloned = spawnSync('sh', ['-c', `git clone --quiet --no-checkout "$0" "$1" && git -C "$1" checkout --quiet --detach ${head}`, REPO_ROOT, clone], { encoding: 'utf8' });
    expect(cloned.status, cloned.stderr).toBe(0);

    const install = run('npm', ['ci', '--no-audit', '--no-fund', '--prefer-offline'], 240_000);
    expect(install.status, install.all.slice(-3000)).toBe(0);

    const dev: ChildProcess = spawn('npm', ['run', 'dev'], { cwd: clone, env: userEnv(), detached: true, stdio: ['ignore', 'pipe', 'pipe'] });
    let output = '';
    dev.stdout?.on('data', (chunk: Buffer) => (output += chunk.toString()));
    dev.stderr?.on('data', (chunk: Buffer) => (output += chunk.toString()));
    const exited = new Promise<void>((resolve) => dev.once('exit', () => resolve()));
    const isOpen = () => dev.exitCode === null && dev.signalCode === null;
    track({}, { description: 'npm run dev in the clone', isOpen, close: async () => process.kill(-(dev.pid as number), 'SIGKILL') });
    await waitFor(() => output.includes('Valhalla go-live is running.') || (isOpen() ? false : Promise.reject(new Error(output))), {
      timeoutMs: 240_000,
      intervalMs: 200,
      description: 'npm run dev in the clone to print its banner',
    });
    const apiUrl = /API:\s+(http:\/\/\S+)/.exec(output)?.[1] as string;
    expect((await fetch(`${apiUrl}/health`)).status).toBe(200);
    // Request lines stay out of a dev log at LOG_LEVEL=info; the health probe above would have made one.
    expect(output).not.toMatch(/incoming request|request completed/);

    const migrate = run('npm', ['run', 'migrate', '--', 'status'], 60_000);
    expect(migrate.status, migrate.all).toBe(0);
    expect(migrate.stderr).toMatch(/database 127\.0\.0\.1:\d+\/valhalla as postgres \(from the npm run dev database/);
    expect(migrate.stdout).toMatch(/^head: /m);
    expect(migrate.stdout).not.toMatch(/^pending/m);

    const status = run('npx', ['valhalla', 'status'], 60_000);
    expect(status.status, status.all).toBe(0);
    expect(status.stdout).toMatch(/^live +false$/m);
    expect(status.stdout).toMatch(/^kill_switch_engaged +true$/m);

    process.kill(-(dev.pid as number), 'SIGINT');
    await exited;
    await waitFor(() => output.includes('[dev] stopped'), { timeoutMs: 60_000, description: 'dev to stop everything' });
    expect(output).not.toMatch(/stopping .* failed/);
  }, 600_000);
});
