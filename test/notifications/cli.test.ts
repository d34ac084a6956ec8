import { spawn } from 'node:child_process';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ALICE, BOB, startApi, type ApiHarness } from '../api/support.js';
import { useTestDatabase } from '../helpers/database.js';
import { REPO_ROOT } from '../helpers/processes.js';
import { NOTIFY_ENV } from './support/harness.js';

const CLI = 'apps/cli/bin/valhalla.js';
const database = useTestDatabase({ poolSize: 4 });
let api: ApiHarness & { close: () => Promise<void> };
let url: string;

type Run = { code: number | null; stdout: string; stderr: string };
/** `valhalla …` as a real process against this file's api (listening on 127.0.0.1), as alice unless told otherwise. */
const valhalla = (args: readonly string[], token: string = ALICE.token): Promise<Run> =>
  new Promise((resolve, reject) => {
    const child = spawn(process.execPath, [CLI, ...args], {
      cwd: REPO_ROOT,
      env: { PATH: process.env.PATH, HOME: process.env.HOME, VALHALLA_API_URL: url, VALHALLA_TOKEN: token },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (chunk: Buffer) => (stdout += chunk.toString()));
    child.stderr.on('data', (chunk: Buffer) => (stderr += chunk.toString()));
    const timer = setTimeout(() => child.kill('SIGKILL'), 30_000);
    child.once('error', reject);
    child.once('close', (code) => {
      clearTimeout(timer);
      resolve({ code, stdout, stderr });
    });
  });

beforeAll(async () => {
  api = await startApi(database.current, { env: NOTIFY_ENV });
  url = await api.app.listen({ host: '127.0.0.1', port: 0 });
});
afterAll(async () => api.close());

describe('valhalla notifications', () => {
  it('adds a webhook (the secret shown once), lists and shows its status, pauses, enables, resumes, rotates and removes it', async () => {
    const added = await valhalla(['notifications', 'add', '--kind', 'webhook', '--url', 'http://127.0.0.1:9/hook?key=q', '--actions', 'kill_switch.engage,kill_switch.release', '--description', 'pager bridge', '--reason', 'page on-call']);
    expect(added.code, added.stderr).toBe(0);
    const id = /subscription ([0-9a-f-]{36}) created \(webhook, actions=kill_switch\.engage,kill_switch\.release\)/.exec(added.stdout)?.[1];
    expect(id).toBeDefined();
    expect(added.stdout).toMatch(/signing secret \(shown only now; give it to the receiver\): whsec_[A-Za-z0-9+/]{43}=/);

    const listed = await valhalla(['notifications']);
    expect(listed.code).toBe(0);
    expect(listed.stdout).toMatch(new RegExp(`${id as string}\\s+webhook\\s+http://127\\.0\\.0\\.1:9/hook\\?…\\s+active\\s+closed\\s+0`));
    expect(listed.stdout).not.toContain('whsec_');
    const asJson = JSON.parse((await valhalla(['notifications', 'list', '--json'])).stdout) as { items: { id: string }[]; can_manage: boolean };
    expect(asJson.can_manage).toBe(true);
    expect(asJson.items.map((item) => item.id)).toContain(id);

    const shown = await valhalla(['notifications', 'show', id as string]);
    expect(shown.code).toBe(0);
    expect(shown.stdout).toMatch(/filter\s+actions=kill_switch\.engage,kill_switch\.release/);
    expect(shown.stdout).toMatch(/description\s+pager bridge/);
    expect(shown.stdout).toContain('newest deliveries:');

    expect((await valhalla(['notifications', 'pause', id as string, '--reason', 'maintenance'])).stdout).toContain(`subscription ${id as string}: paused`);
    expect((await valhalla(['notifications', 'enable', id as string, '--reason', 'back'])).stdout).toContain(`subscription ${id as string}: active`);
    const resumed = await valhalla(['notifications', 'resume', id as string, '--skip-backlog', '--reason', 'start fresh']);
    expect(resumed.stdout).toContain(`subscription ${id as string}: active, backlog 0`);
    const updated = await valhalla(['notifications', 'update', id as string, '--kinds', 'change', '--outcomes', 'applied', '--reason', 'every applied change']);
    expect(updated.code, updated.stderr).toBe(0);
    expect(updated.stdout).toMatch(/filter\s+kinds=change outcomes=applied/);
    expect((await valhalla(['notifications', 'rotate-secret', id as string, '--reason', 'rotate'])).stdout).toMatch(/new signing secret .*: whsec_/);
    const removed = await valhalla(['notifications', 'remove', id as string, '--reason', 'retired']);
    expect(removed.stdout).toContain(`subscription ${id as string} removed (0 pending deliveries dropped)`);
    const gone = await valhalla(['notifications', 'show', id as string]);
    expect(gone.code).toBe(1);
    expect(gone.stderr).toContain('NOT_FOUND');
  });

  it('says what is wrong: the api\'s refusals exit 1 with their details, usage errors exit 64', async () => {
    const ssrf = await valhalla(['notifications', 'add', '--kind', 'webhook', '--url', 'http://169.254.169.254/latest', '--reason', 'r']);
    expect(ssrf.code).toBe(1);
    expect(ssrf.stderr).toMatch(/^TARGET_NOT_ALLOWED: .*169\.254\.169\.254 is a link-local address/m);
    expect(ssrf.stderr).toMatch(/^ {2}url: /m);
    const typo = await valhalla(['notifications', 'add', '--kind', 'webhook', '--url', 'http://127.0.0.1:9/', '--actions', 'kill_switch.engaeg', '--reason', 'r']);
    expect(typo.code).toBe(1);
    expect(typo.stderr).toMatch(/VALIDATION_FAILED[\s\S]*filter\.actions\.0: actions: each must be an audit action/);
    const notAdmin = await valhalla(['notifications', 'add', '--kind', 'slack', '--url', 'http://127.0.0.1:9/services/x', '--reason', 'r'], BOB.token);
    expect(notAdmin.code).toBe(1);
    expect(notAdmin.stderr).toContain('FORBIDDEN');
    for (const args of [
      ['notifications', 'add', '--kind', 'webhook', '--reason', 'r'],
      ['notifications', 'frobnicate'],
      ['notifications', 'pause', '--reason', 'r'],
      ['notifications', 'list', '--kind', 'webhook'],
      ['notifications', 'show', 'a', 'b'],
      ['notifications', 'add', '--kind'],
    ]) {
      const run = await valhalla(args);
      expect(run.code, args.join(' ')).toBe(64);
      expect(run.stderr).toContain('usage: valhalla notifications');
    }
  });
});
