import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { mkdtemp, readFile, rm, stat, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { track } from '../helpers/leaks.js';
import { REPO_ROOT } from '../helpers/processes.js';
import { isPortFree } from '../../apps/cli/src/dev/freePort.js';
import { waitFor } from '../helpers/waitFor.js';

/**
 * `npm run dev` as a newcomer runs it: no DATABASE_URL, no REDIS_URL. Started in its own process group and stopped
 * with SIGINT to the group, which is what Ctrl-C in a terminal does.
 */
type DevRun = { child: ChildProcess; output: () => string; exited: Promise<number | null> };

const startDev = (devDir: string): DevRun => {
  const env: NodeJS.ProcessEnv = { ...process.env, VALHALLA_DEV_DIR: devDir, LOG_LEVEL: 'warn' };
  delete env.DATABASE_URL;
  delete env.REDIS_URL;
  delete env.GOVERNANCE_TOKENS;
  delete env.PORT;
  const child = spawn('npm', ['run', 'dev'], { cwd: REPO_ROOT, env, detached: true, stdio: ['ignore', 'pipe', 'pipe'] });
  let output = '';
  child.stdout?.on('data', (chunk: Buffer) => (output += chunk.toString()));
  child.stderr?.on('data', (chunk: Buffer) => (output += chunk.toString()));
  const exited = new Promise<number | null>((resolve) => child.once('exit', (code) => resolve(code)));
  const isOpen = () => child.exitCode === null && child.signalCode === null;
  return track(
    { child, output: () => output, exited },
    { description: 'npm run dev', isOpen, close: async () => process.kill(-(child.pid as number), 'SIGKILL') },
  );
};

/** Ctrl-C: SIGINT to the whole group. npm itself dies of the signal; the dev script stops what it started and says so. */
const interrupt = async (run: DevRun): Promise<void> => {
  process.kill(-(run.child.pid as number), 'SIGINT');
  await run.exited;
  await waitFor(() => run.output().includes('[dev] stopped'), { timeoutMs: 45_000, description: 'the dev script to report it stopped' });
};

const banner = async (run: DevRun) => {
  await waitFor(() => /Valhalla go-live is running/.test(run.output()) || (run.child.exitCode !== null ? Promise.reject(new Error(run.output())) : false), {
    timeoutMs: 120_000,
    intervalMs: 100,
    description: 'the dev banner',
  });
  const output = run.output();
  const apiUrl = /API:\s+(http:\/\/\S+)/.exec(output)?.[1] as string;
  const token = /Token:\s+(\S+)/.exec(output)?.[1] as string;
  const curls = output.split('\n').map((line) => line.trim()).filter((line) => line.startsWith('curl '));
  const ports = [...output.matchAll(/on port (\d+)/g)].map((match) => Number(match[1]));
  return { apiUrl, token, curls, ports };
};

const shell = (command: string) => spawnSync('sh', ['-c', command], { encoding: 'utf8', timeout: 10_000 });

const runbook = async (apiUrl: string, token: string) => {
  const response = await fetch(`${apiUrl}/api/governance/runbook/status`, { headers: { authorization: `Bearer ${token}` } });
  return (await response.json()) as { go_live_state: { kill_switch_engaged: boolean }; system_metadata: { backend_complete: boolean } };
};

const processesUsing = (devDir: string) => shell(`pgrep -af -- '${devDir}' | grep -v pgrep || true`).stdout.trim();

describe('npm run dev', () => {
  let devDir: string;
  beforeAll(async () => {
    // mkdtemp makes the folder 0700: as root, dev must grant the postgres OS user access to it (and say so).
    devDir = await mkdtemp(join(tmpdir(), 'valhalla-dev-'));
    // A token file left readable by others (an older version wrote it so): dev keeps the token and makes it 0600.
    await writeFile(join(devDir, 'dev-token'), `developer:${'ab'.repeat(24)}\n`, { mode: 0o644 });
  });
  afterAll(async () => {
    await rm(devDir, { recursive: true, force: true });
  });

  it('starts everything on embedded defaults, the printed curl lines work, and Ctrl-C stops every process it started', async () => {
    const run = startDev(devDir);
    const started = Date.now();
    const { apiUrl, token, curls, ports } = await banner(run);
    process.stdout.write(`npm run dev healthy after ${Date.now() - started} ms\n`);
    expect(run.output()).toContain('initialising embedded PostgreSQL');
    if (process.getuid?.() === 0) expect(run.output()).toMatch(/granted the postgres OS user traversal \(x\) on \S*valhalla-dev-/);
    expect((await fetch(`${apiUrl}/health`)).status).toBe(200);
    expect(curls).toHaveLength(3);
    expect(token).toBe('ab'.repeat(24));
    expect((await stat(join(devDir, 'dev-token'))).mode & 0o777).toBe(0o600);
    const password = (await readFile(join(devDir, 'postgres-password'), 'utf8')).trim();
    expect(run.output()).toMatch(/Database: 127\.0\.0\.1:\d+\/valhalla as postgres/);
    // The migration step says where its database came from: nobody set DATABASE_URL here.
    expect(run.output()).toMatch(/\[migrate\] migrate: database 127\.0\.0\.1:\d+\/valhalla as postgres \(from the embedded PostgreSQL in \S+\/postgres\)/);
    expect(run.output()).not.toContain('DATABASE_URL)');
    expect(run.output()).not.toContain(password);
    expect(await readFile(join(devDir, 'banner.txt'), 'utf8')).toContain(`Token:    ${token}`);
    // Request lines are debug output in dev: the curl lines below must not print any at LOG_LEVEL=warn.

    // migrate without DATABASE_URL uses this dev database and says which.
    const migrateEnv: NodeJS.ProcessEnv = { ...process.env, VALHALLA_DEV_DIR: devDir };
    delete migrateEnv.DATABASE_URL;
    const migrate = spawnSync('npm', ['run', '--silent', 'migrate', '--', 'status'], { cwd: REPO_ROOT, env: migrateEnv, encoding: 'utf8' });
    expect(migrate.status, migrate.stderr).toBe(0);
    expect(migrate.stderr).toMatch(/database 127\.0\.0\.1:\d+\/valhalla as postgres \(from the npm run dev database/);
    expect(migrate.stdout).not.toMatch(/^pending/m);

    for (const curl of curls.slice(0, 2)) {
      const result = shell(curl);
      expect(result.status, result.stderr).toBe(0);
      expect(JSON.parse(result.stdout)).toMatchObject({ status: 'queued' });
    }
    await waitFor(async () => {
      const status = await runbook(apiUrl, token);
      return status.go_live_state.kill_switch_engaged === false && status.system_metadata.backend_complete === true;
    }, { timeoutMs: 20_000, description: 'the worker to apply the two curl changes' });
    const statusLine = shell(curls[2] as string);
    expect(JSON.parse(statusLine.stdout)).toMatchObject({ go_live_state: { kill_switch_engaged: false } });

    await interrupt(run);
    expect(run.output()).not.toMatch(/stopping .* failed/);
    await waitFor(() => processesUsing(devDir) === '', { timeoutMs: 15_000, description: 'no process left using the dev folder' });
    const apiPort = Number(new URL(apiUrl).port);
    for (const port of [apiPort, ...ports]) expect(await isPortFree(port), `port ${port} still taken`).toBe(true);

    // With dev stopped, migrate without DATABASE_URL refuses instead of guessing a database.
    const refused = spawnSync('npm', ['run', '--silent', 'migrate', '--', 'status'], { cwd: REPO_ROOT, env: migrateEnv, encoding: 'utf8' });
    expect(refused.status).toBe(78);
    expect(refused.stderr).toContain('DATABASE_URL is not set, and no `npm run dev` is running');
  });

  it('reuses the data folder on the next start, and the state survives; SIGTERM to npm alone stops everything', async () => {
    const run = startDev(devDir);
    const { apiUrl, token } = await banner(run);
    expect(run.output()).toContain('embedded PostgreSQL reused');
    const status = await runbook(apiUrl, token);
    expect(status.go_live_state.kill_switch_engaged).toBe(false);
    expect(status.system_metadata.backend_complete).toBe(true);
    // A process manager or a script stops npm, not its group: npm exits without passing the signal on.
    run.child.kill('SIGTERM');
    await run.exited;
    await waitFor(() => run.output().includes('[dev] stopped'), { timeoutMs: 45_000, description: 'the orphaned dev script to stop everything' });
    expect(run.output()).toContain('the command that started npm run dev is gone');
    expect(run.output()).not.toMatch(/stopping .* failed/);
    await waitFor(() => processesUsing(devDir) === '', { timeoutMs: 15_000, description: 'no process left using the dev folder' });
  });

  it('after a SIGKILLed supervisor, the next start stops what the killed run left running', async () => {
    const killed = startDev(devDir);
    const first = await banner(killed);
    // npm, its shell and the supervisor die at once; the inner process, api, worker, redis and PostgreSQL live on.
    process.kill(-(killed.child.pid as number), 'SIGKILL');
    await killed.exited;
    expect((await fetch(`${first.apiUrl}/health`)).status).toBe(200);

    const run = startDev(devDir);
    const { apiUrl, token } = await banner(run);
    expect(run.output()).toContain('left running by an earlier npm run dev');
    expect((await runbook(apiUrl, token)).go_live_state.kill_switch_engaged).toBe(false);
    await interrupt(run);
    await waitFor(() => processesUsing(devDir) === '', { timeoutMs: 15_000, description: 'no process left using the dev folder' });
  });
});
