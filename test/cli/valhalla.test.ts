import { randomUUID } from 'node:crypto';
import { realpathSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startApiProcess, startWorkerProcess } from '../api/processes.js';
import { ALICE, quitRedis } from '../api/support.js';
import { useTestDatabase } from '../helpers/database.js';
import { REPO_ROOT, type ManagedProcess } from '../helpers/processes.js';
import { createTestRedis, deleteKeysWithPrefix, testRedisUrl, uniqueQueuePrefix } from '../helpers/redis.js';
import { freePort } from '../helpers/redisServer.js';
import { waitFor } from '../helpers/waitFor.js';
import { runCommand } from './runCommand.js';

const CLI = 'apps/cli/bin/valhalla.js';
const database = useTestDatabase({ poolSize: 2 });

let api: { process: ManagedProcess; url: string };
let worker: ManagedProcess;
const prefix = uniqueQueuePrefix('cli');
const release = `cli-${prefix.slice(-8)}`;

/** `valhalla …` against the test's api, as ALICE unless the environment says otherwise. */
const valhalla = (args: readonly string[], env: Record<string, string | undefined> = {}) =>
  runCommand(process.execPath, [CLI, ...args], { VALHALLA_API_URL: api.url, VALHALLA_TOKEN: ALICE.token, ...env });

beforeAll(async () => {
  api = await startApiProcess({
    databaseUrl: database.current.url,
    redisUrl: testRedisUrl(),
    prefix,
    extra: { RELEASE: release, RATE_LIMIT_PER_MINUTE: '100000' },
  });
  worker = startWorkerProcess({ databaseUrl: database.current.url, redisUrl: testRedisUrl(), prefix, extra: { RELEASE: release, API_URL: api.url } });
  await worker.waitForOutput(/"msg":"worker ready"/, 30_000);
});

afterAll(async () => {
  const exits = await Promise.all([api?.process.stop('SIGTERM'), worker?.stop('SIGTERM')]);
  const redis = createTestRedis();
  await deleteKeysWithPrefix(redis, prefix);
  await quitRedis(redis);
  expect(exits).toEqual([{ code: 0, signal: null }, { code: 0, signal: null }]);
});

const USAGE = /usage: valhalla <command>/;

describe('valhalla CLI: usage and failures', () => {
  it('prints the usage for --help and help (exit 0), also through the node_modules/.bin link that npx runs', async () => {
    for (const args of [['--help'], ['help']]) {
      const run = await valhalla(args);
      expect(run.code, args.join(' ')).toBe(0);
      expect(run.stdout).toMatch(USAGE);
      expect(run.stdout).toContain('64 usage error');
    }
    // A command's own help: its words and flags, declared with the command.
    const statusHelp = await valhalla(['go-live', '--help']);
    expect(statusHelp.code).toBe(0);
    expect(statusHelp.stdout).toMatch(/^usage: valhalla go-live enable\|disable --reason TEXT$/m);
    expect(statusHelp.stdout).toMatch(/^ {2}--wait +block until the job finishes/m);
    const link = join(REPO_ROOT, 'node_modules/.bin/valhalla');
    expect(realpathSync(link)).toBe(realpathSync(join(REPO_ROOT, CLI)));
    const viaBin = await runCommand(link, ['--help'], {});
    expect(viaBin.code).toBe(0);
    expect(viaBin.stdout).toMatch(USAGE);
    const viaNpx = await runCommand('npx', ['--no-install', 'valhalla', '--help'], {});
    expect(viaNpx.code).toBe(0);
    expect(viaNpx.stdout).toMatch(USAGE);
  });

  it('prints its version, and a strong random token (alone, or as the actor:token pair of GOVERNANCE_TOKENS)', async () => {
    const version = await valhalla(['--version']);
    expect({ code: version.code, stdout: version.stdout }).toEqual({ code: 0, stdout: 'valhalla 0.1.0\n' });
    const [first, second, pair] = await Promise.all([valhalla(['token'], { VALHALLA_TOKEN: undefined }), valhalla(['token']), valhalla(['token', '--actor', 'ops', '--json'])]);
    expect(first.code).toBe(0);
    expect(first.stdout.trim()).toMatch(/^[A-Za-z0-9_-]{43}$/);
    expect(second.stdout.trim()).not.toBe(first.stdout.trim());
    expect(pair.json()).toMatchObject({ actor: 'ops', token: expect.stringMatching(/^[A-Za-z0-9_-]{43}$/) });
    expect(pair.json().governanceTokensEntry).toBe(`ops:${pair.json().token}`);
  });

  it('exits 64 with the usage text on stderr for usage errors, without calling the API', async () => {
    const cases: [string[], RegExp][] = [
      [[], USAGE],
      [['launch'], /unknown command launch/],
      [['go-live', 'enable'], /--reason TEXT is required/],
      [['go-live', 'maybe', '--reason', 'x'], /go-live takes enable or disable/],
      [['kill-switch', 'release', '--reason'], /--reason needs a value/],
      [['go-live', 'enable', '--reason', 'x', '--wiat'], /go-live does not take --wiat/],
      [['go-live', 'enable', '--reason', 'x', '--wait', '--timeout', 'soon'], /--timeout takes a number of seconds/],
      [['metadata', '--reason', 'x'], /metadata needs --version, --backend-complete or --notes/],
      [['metadata', '--backend-complete', 'yes', '--reason', 'x'], /--backend-complete takes true or false/],
      [['jobs'], /jobs needs <id>/],
      [['migrate', 'status', '--jsn'], /migrate status does not take --jsn/],
      [['migrate', 'down', '--to', 'base', '--export-and-dorp'], /migrate down does not take --export-and-dorp/],
      // An empty unquoted $REV: must not migrate to head.
      [['migrate', 'up', '--to'], /migrate up: --to needs a value/],
      [['migrate', 'down', '--to', 'a', '--to', 'base'], /--to is given twice/],
      [['migrate', 'verify', 'extra'], /migrate verify does not take "extra"/],
      [['token', '--actor', 'a:b'], /--actor takes letters/],
      [['retry', 'some-job'], /--reason TEXT is required/],
      [['status', 'extra'], /unexpected argument "extra" for status/],
    ];
    // An unreachable API: a usage error must be reported before any call is made.
    const unreachable = `http://127.0.0.1:${await freePort()}`;
    const runs = await Promise.all(cases.map(([args]) => valhalla(args, { VALHALLA_API_URL: unreachable })));
    runs.forEach((run, i) => {
      const [args, message] = cases[i]!;
      expect(run.code, args.join(' ')).toBe(64);
      expect(run.stderr, args.join(' ')).toMatch(message);
      expect(run.stderr, args.join(' ')).toMatch(/usage: valhalla /);
      expect(run.stdout, args.join(' ')).toBe('');
    });
  });

  it('prints the migrate usage for --help, with or without a database', async () => {
    for (const args of [['migrate', '--help'], ['migrate', 'up', '--help'], ['migrate', 'help']]) {
      const run = await valhalla(args, { DATABASE_URL: '' });
      expect(run.code, args.join(' ')).toBe(0);
      expect(run.stdout, args.join(' ')).toMatch(/usage: migrate <command>/);
    }
    // npm run migrate's own entrypoint.
    const direct = await runCommand(process.execPath, ['apps/cli/dist/migrate.js', 'down', '--help'], { DATABASE_URL: '' });
    expect(direct.code).toBe(0);
    expect(direct.stdout).toMatch(/usage: migrate <command>/);
    // The actor stamp and repair record must read as one line in the audit log: refused before anything connects.
    const badActor = await runCommand(process.execPath, ['apps/cli/dist/migrate.js', 'status'], { DATABASE_URL: 'postgres://postgres@127.0.0.1:1/none', MIGRATION_ACTOR: 'evil\nactor' });
    expect(badActor.code).toBe(78);
    expect(badActor.stderr).toMatch(/MIGRATION_ACTOR: must be/);
  });

  it('exits 1 naming UNAUTHENTICATED for a bad token, and UNREACHABLE when the API does not answer', async () => {
    const badToken = await valhalla(['status'], { VALHALLA_TOKEN: 'not-a-token' });
    expect(badToken.code).toBe(1);
    expect(badToken.stderr).toMatch(/^UNAUTHENTICATED: /);
    const badTokenJson = await valhalla(['status', '--json'], { VALHALLA_TOKEN: 'not-a-token' });
    expect(badTokenJson.code).toBe(1);
    expect(badTokenJson.json()).toMatchObject({ error: { code: 'UNAUTHENTICATED' } });
    const noToken = await valhalla(['status'], { VALHALLA_TOKEN: undefined });
    expect(noToken.code).toBe(1);
    expect(noToken.stderr).toMatch(/^MISSING_TOKEN: VALHALLA_TOKEN is not set/);
    // The GOVERNANCE_TOKENS form (and the dev token file's content), actor:token, works as it is.
    const pairForm = await valhalla(['status'], { VALHALLA_TOKEN: `${ALICE.actor}:${ALICE.token}` });
    expect(pairForm.code, pairForm.stderr).toBe(0);

    const unreachable = await valhalla(['status'], { VALHALLA_API_URL: `http://127.0.0.1:${await freePort()}` });
    expect(unreachable.code).toBe(1);
    expect(unreachable.stderr).toMatch(/^UNREACHABLE: cannot reach http:\/\/127\.0\.0\.1:\d+: .*ECONNREFUSED/);
  });
});

/**
 * The cases below share the api and worker processes (and so the database): each first brings row 1 and the queue to
 * what it needs through the API, so that it passes alone, in any order, and for its own reasons.
 */
const request = async (method: 'GET' | 'POST', path: string, body?: object): Promise<any> => {
  const response = await fetch(`${api.url}${path}`, {
    method,
    headers: { authorization: `Bearer ${ALICE.token}`, ...(body === undefined ? {} : { 'content-type': 'application/json' }) },
    ...(body === undefined ? {} : { body: JSON.stringify(body) }),
  });
  return response.json();
};
/** Submits a change (or a verification) through the API and waits until its job completed or failed. */
const settled = async (path: string, body: object): Promise<{ id: string; state: string }> => {
  const { jobId } = (await request('POST', path, body)) as { jobId: string };
  return waitFor(async () => {
    const job = (await request('GET', `/api/jobs/${jobId}`)) as { id: string; state: string };
    return job.state === 'completed' || job.state === 'failed' ? job : false;
  }, { timeoutMs: 20_000, description: `job ${jobId} to settle` });
};
/** Row 1 as a fresh install has it: kill switch engaged, go-live disabled, backend not complete. */
const resetState = async () => {
  await Promise.all([
    settled('/api/governance/kill-switch', { engaged: true, reason: 'test setup' }),
    settled('/api/governance/go-live', { enabled: false, reason: 'test setup' }),
    settled('/api/governance/system-metadata', { backend_complete: false, reason: 'test setup' }),
  ]);
};
/** A change that was rejected (go-live enable with the kill switch engaged) and one that completed. */
const rejectedAndCompletedJobs = async () => {
  await resetState();
  const rejected = await settled('/api/governance/go-live', { enabled: true, reason: 'too early' });
  expect(rejected.state).toBe('failed');
  const completed = await settled('/api/governance/system-metadata', { notes: `note ${randomUUID()}`, reason: 'a note' });
  expect(completed.state).toBe('completed');
  return { rejectedJobId: rejected.id, completedJobId: completed.id };
};

describe('valhalla CLI: the go-live runbook against a real api and worker', () => {
  it('status: state, live, migrations and last verification, as a table and as JSON', async () => {
    await resetState();
    const json = await valhalla(['status', '--json']);
    expect(json.code).toBe(0);
    expect(json.json()).toMatchObject({
      live: false,
      go_live_state: { go_live_enabled: false, kill_switch_engaged: true },
      system_metadata: { backend_complete: false },
      migrations: { pending: [] },
    });
    const human = await valhalla(['status']);
    expect(human.code).toBe(0);
    expect(human.stdout).toMatch(/^live +false$/m);
    expect(human.stdout).toMatch(/^kill_switch_engaged +true$/m);
    expect(human.stdout).toMatch(/^pending revisions +none$/m);
    // One meaning per word: "version" is the backend's, the verified build is a deploy.
    expect(human.stdout).toMatch(/^backend version +1\.0\.0$/m);
    expect(human.stdout).toMatch(/^last verification +(passed|FAILED) \(deploy \S+, \S+\)$|^last verification +none$/m);
  });

  it('go-live enable while the preconditions fail: exit 2 with PRECONDITION_FAILED naming them', async () => {
    await resetState();
    const json = await valhalla(['go-live', 'enable', '--reason', 'too early', '--wait', '--json']);
    expect(json.code).toBe(2);
    const job = json.json();
    expect(job).toMatchObject({ queue: 'governance', name: 'go-live-change', state: 'failed', error: { code: 'PRECONDITION_FAILED' } });
    expect(job.error.message).toMatch(/kill_switch_released/);

    const human = await valhalla(['go-live', 'enable', '--reason', 'still too early', '--wait']);
    expect(human.code).toBe(2);
    expect(human.stdout).toMatch(/^state +failed$/m);
    expect(human.stdout).toMatch(/^outcome +PRECONDITION_FAILED: /m);
  });

  it('kill-switch release, metadata, verify, then go-live enable: each --wait exits 0 and the system is live', async () => {
    await resetState();
    const released = await valhalla(['kill-switch', 'release', '--reason', 'incident closed', '--wait', '--json']);
    expect(released.code).toBe(0);
    expect(released.json()).toMatchObject({ state: 'completed', result: { outcome: 'applied', action: 'kill_switch.release' } });

    const metadata = await valhalla(['metadata', '--backend-complete', 'true', '--version', '2.0.0', '--reason', 'backend done', '--wait']);
    expect(metadata.code).toBe(0);
    expect(metadata.stdout).toMatch(/^state +completed$/m);
    expect(metadata.stdout).toMatch(/^outcome +applied$/m);

    const verify = await valhalla(['verify', '--release', release, '--wait', '--json']);
    expect(verify.code).toBe(0);
    expect(verify.json()).toMatchObject({ queue: 'verification', name: 'migration-verify', state: 'completed', result: { passed: true } });

    const queued = await valhalla(['go-live', 'enable', '--reason', 'launch', '--json']);
    expect(queued.code).toBe(0);
    expect(queued.json()).toMatchObject({ jobId: expect.any(String), status: 'queued' });
    const waited = await valhalla(['jobs', queued.json().jobId, '--wait']);
    expect(waited.code).toBe(0);
    expect(waited.stdout).toMatch(/^outcome +applied$/m);

    const status = await valhalla(['status', '--json']);
    expect(status.json()).toMatchObject({
      live: true,
      go_live_state: { go_live_enabled: true, kill_switch_engaged: false, changed_by: ALICE.actor, reason: 'launch' },
      system_metadata: { backend_complete: true, version: '2.0.0' },
      last_verification: { passed: true },
    });
    expect((await valhalla(['status'])).stdout).toMatch(/^live +true$/m);

    // An engage is applied in the request: without --wait the CLI says so, with its outcome, not "queued".
    const engaged = await valhalla(['kill-switch', 'engage', '--reason', 'incident']);
    expect(engaged.code).toBe(0);
    expect(engaged.stdout.trim()).toMatch(/^applied in the request: job \S+, outcome applied$/);
    expect((await valhalla(['status'])).stdout).toMatch(/^live +false$/m);
  });

  it('audit --limit pages newest first; verifications lists runs; as tables and as JSON', async () => {
    expect((await settled('/api/governance/verify', { release })).state).toBe('completed');
    const reasons = [1, 2, 3].map((i) => `audit page ${i} ${randomUUID().slice(0, 8)}`);
    for (const reason of reasons) expect((await settled('/api/governance/system-metadata', { notes: reason, reason })).state).toBe('completed');

    const page = await valhalla(['audit', '--limit', '2', '--json']);
    expect(page.code).toBe(0);
    const body = page.json();
    expect(body.items.map((item: { action: string; outcome: string; reason: string }) => [item.action, item.outcome, item.reason])).toEqual([
      ['metadata.update', 'applied', reasons[2]],
      ['metadata.update', 'applied', reasons[1]],
    ]);
    expect(body.next).toEqual(expect.any(String));
    const older = await valhalla(['audit', '--limit', '200', '--before', body.next, '--json']);
    // Newest first, down to the first entry: then there is no next page.
    expect(older.json().items[0]).toMatchObject({ action: 'metadata.update', reason: reasons[0] });
    const ids = older.json().items.map((item: { id: number }) => Number(item.id));
    expect(ids).toEqual([...ids].sort((a, b) => b - a));
    expect(older.json().next).toBeNull();

    const table = await valhalla(['audit', '--limit', '2']);
    expect(table.code).toBe(0);
    const lines = table.stdout.trimEnd().split('\n');
    expect(lines[0]).toMatch(/^id +created_at +actor +action +outcome +reason$/);
    expect(lines[1]).toMatch(/^-+( +-+){5}$/);
    expect(lines[2]).toMatch(new RegExp(` alice +metadata\\.update +applied +${reasons[2]}$`));
    expect(lines.at(-1)).toBe(`next: --before ${body.next}`);

    const runs = await valhalla(['verifications', '--limit', '5', '--json']);
    expect(runs.code).toBe(0);
    const items = runs.json().items as { release: string; passed: boolean; checks: unknown[] }[];
    expect(items.some((run) => run.release === release && run.passed && run.checks.length > 0)).toBe(true);
    const runTable = await valhalla(['verifications']);
    // The run's `release` field is labelled as the deploy it verified: "release" is the kill switch's word.
    expect(runTable.stdout.split('\n')[0]).toMatch(/^id +finished_at +deploy +migration_head +passed +actor$/);
    expect(runTable.stdout).toMatch(new RegExp(`${release} +\\S+ +true `));

    const badLimit = await valhalla(['audit', '--limit', '0']);
    expect(badLimit.code).toBe(1);
    expect(badLimit.stderr).toMatch(/^VALIDATION_FAILED: /);
    // The API's details name the field and the rule.
    expect(badLimit.stderr).toMatch(/^ {2}\S*limit\S*: .+/m);
  });

  it('jobs <id> shows a job; an unknown id is NOT_FOUND', async () => {
    const { rejectedJobId, completedJobId } = await rejectedAndCompletedJobs();
    const json = await valhalla(['jobs', completedJobId, '--json']);
    expect(json.code).toBe(0);
    expect(json.json()).toMatchObject({ id: completedJobId, queue: 'governance', name: 'go-live-change', state: 'completed', attempts: expect.any(Number), error: null });
    const human = await valhalla(['jobs', completedJobId]);
    expect(human.stdout).toMatch(new RegExp(`^job +${completedJobId}$`, 'm'));
    expect(human.stdout).toMatch(/^queue +governance \/ go-live-change$/m);
    expect(human.stdout).toMatch(/^state +completed$/m);

    const rejected = await valhalla(['jobs', rejectedJobId]);
    expect(rejected.code).toBe(2);
    expect(rejected.stdout).toMatch(/PRECONDITION_FAILED/);

    const unknown = await valhalla(['jobs', 'no-such-job']);
    expect(unknown.code).toBe(1);
    expect(unknown.stderr).toMatch(/^NOT_FOUND: /);
  });

  it('retry <id> --reason: 409 JOB_NOT_RETRYABLE for a rejected change (final) and for a job that did not fail', async () => {
    // A rejection is final for its job id (the worker would replay it): the operator submits a new change instead.
    // The 202 path of retry is covered by test/api/jobRetry.test.ts.
    const { rejectedJobId, completedJobId } = await rejectedAndCompletedJobs();
    const rejected = await valhalla(['retry', rejectedJobId, '--reason', 'preconditions hold now', '--json']);
    expect(rejected.code).toBe(1);
    expect(rejected.json()).toMatchObject({ error: { code: 'JOB_NOT_RETRYABLE' } });
    expect(rejected.stderr).toMatch(/^JOB_NOT_RETRYABLE: .*PRECONDITION_FAILED/);

    const notRetryable = await valhalla(['retry', completedJobId, '--reason', 'it did not fail']);
    expect(notRetryable.code).toBe(1);
    expect(notRetryable.stderr).toMatch(/^JOB_NOT_RETRYABLE: /);
  });

  it('migrate status reads the database named by DATABASE_URL', async () => {
    const human = await valhalla(['migrate', 'status'], { DATABASE_URL: database.current.url, VALHALLA_API_URL: undefined });
    expect(human.code).toBe(0);
    expect(human.stdout).toMatch(/^head: \S+$/m);
    expect(human.stdout).toMatch(/^applied +20260121_go_live_core_tables /m);
    expect(human.stdout).not.toMatch(/^pending/m);
    const json = await valhalla(['migrate', 'status', '--json'], { DATABASE_URL: database.current.url });
    expect(json.code).toBe(0);
    const status = json.json();
    expect(status).toMatchObject({ pending: [], unknown: [], edited: [] });
    expect(status.applied.map((row: { revision: string }) => row.revision)).toContain(status.head);
  });
});
