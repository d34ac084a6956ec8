import { appendFile } from 'node:fs/promises';
import { createServer, type Server } from 'node:http';
import { join } from 'node:path';
import type { Job } from 'bullmq';
import { describe, expect, it } from 'vitest';
import { createAuditKeyring, DEVELOPMENT_AUDIT_KEY, createLogger, sql } from '../../packages/core/src/index.js';
import { JOB_NAMES, QUEUES, decodeJobFailure, startupVerificationJobId, type VerificationCheck } from '../../packages/contract/src/index.js';
import { createMigrator, loadRevisionChain } from '../../packages/core/src/migrator/index.js';
import {
  API_HEALTH_CHECK,
  AUDIT_CHAIN_CHECK,
  RELEASE_SKEW_CHECK,
  SEED_ROWS_CHECK,
  createMigrationVerifyProcessor,
  type MigrationVerifyResult,
} from '../../apps/worker/src/index.js';
import { adminQuery } from '../helpers/database.js';
import { track } from '../helpers/leaks.js';
import { copyMigrations, MIGRATIONS_DIR } from '../migrations/fixtures.js';
import { TEST_RELEASE, startInProcessWorker, useWorkerFixture, waitForJob } from './support/workerHarness.js';

const fixture = useWorkerFixture('verify');

/** Enqueues a migration-verify and returns its completed result (a failed verification still completes the job). */
const verify = async (release?: string): Promise<MigrationVerifyResult & { jobId: string }> => {
  const job = await fixture.current.producer.queues.enqueue(JOB_NAMES.migrationVerify, { actor: 'ops:alice', ...(release === undefined ? {} : { release }) });
  const outcome = await waitForJob(fixture.current.producer, job.id!);
  expect(outcome.state, outcome.failedReason).toBe('completed');
  return { jobId: job.id!, ...(outcome.returnvalue as MigrationVerifyResult) };
};

const failing = (checks: readonly VerificationCheck[]) => checks.filter((check) => check.status !== 'passed');

/** A one-route HTTP server standing in for the api's /health. */
const startHealthServer = async (status: () => number): Promise<{ url: string; close: () => Promise<void> }> => {
  const server: Server = createServer((_request, response) => {
    response.writeHead(status(), { 'content-type': 'application/json' }).end(JSON.stringify({ release: TEST_RELEASE }));
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const address = server.address() as { port: number };
  const close = () => new Promise<void>((resolve) => server.close(() => resolve()));
  return track({ url: `http://127.0.0.1:${address.port}`, close }, { description: 'health server', isOpen: () => server.listening, close });
};

describe('migration-verify jobs', () => {
  it('pass on a migrated database and store the run with release, head and per-check results', async () => {
    const { database, prefix } = fixture.current;
    const worker = await startInProcessWorker(database, prefix);
    const result = await verify(TEST_RELEASE);
    expect(failing(result.checks)).toEqual([]);
    expect(result.passed).toBe(true);
    const names = result.checks.map((check) => check.name);
    expect(names).toEqual(expect.arrayContaining(['all revisions applied', 'applied revisions unedited', 'no unknown revisions in the ledger', SEED_ROWS_CHECK, AUDIT_CHAIN_CHECK]));
    expect(names.some((name) => name.startsWith('revision 20260121_go_live_core_tables:'))).toBe(true);
    expect(names).not.toContain(API_HEALTH_CHECK);

    const run = (await database.pool.one(
      sql.unsafe`SELECT id, job_id, release, migration_head, actor, passed, checks FROM public.verification_runs WHERE job_id = ${result.jobId}`,
    )) as { checks: unknown };
    expect(run).toMatchObject({ id: result.runId, release: TEST_RELEASE, migration_head: worker.migrationHead, actor: 'ops:alice', passed: true });
    expect(run.checks).toEqual(result.checks);
    expect(worker.migrationHead).toBe((await loadRevisionChain(MIGRATIONS_DIR)).head);
    await worker.close();
  });

  it('fail naming the revision when an applied revision was edited', async () => {
    const { database, prefix } = fixture.current;
    const edited = await copyMigrations();
    await appendFile(join(edited, '20260121_go_live_core_tables', 'up.sql'), '\n-- edited after it was applied\n');
    const worker = await startInProcessWorker(database, prefix, { migrationsDir: edited });
    const result = await verify();
    expect(result.passed).toBe(false);
    expect(failing(result.checks)).toEqual([
      { name: 'applied revisions unedited', status: 'failed', detail: 'edited: 20260121_go_live_core_tables' },
    ]);
    await worker.close();
  });

  it('fail naming the table when a seed row was deleted', async () => {
    const { database, prefix } = fixture.current;
    await database.pool.query(sql.unsafe`DELETE FROM public.go_live_state WHERE id = 1`);
    const worker = await startInProcessWorker(database, prefix);
    const result = await verify();
    expect(result.passed).toBe(false);
    expect(failing(result.checks)).toContainEqual({ name: SEED_ROWS_CHECK, status: 'failed', detail: 'row 1 missing in: go_live_state' });
    // A run that did not pass is an audit event too (notification subscriptions filter on it), written with the run.
    // One per failed run (the worker's startup run failed too), each naming its run. Read in one statement (one
    // snapshot): the startup run may commit between two reads. Ordered by run: the startup run and this one may
    // commit in either order, so the audit order proves nothing here.
    const rows = (await database.pool.any(sql.unsafe`
      SELECT run.id AS run_id, event.reason, event.details
      FROM public.verification_runs AS run
      LEFT JOIN public.governance_audit_log AS event
        ON event.action = 'verification.failed' AND (event.details->>'run_id')::bigint = run.id
      WHERE NOT run.passed
      ORDER BY run.id`)) as Record<string, any>[];
    const orphans = await database.pool.anyFirst(sql.unsafe`
      SELECT id FROM public.governance_audit_log AS event WHERE action = 'verification.failed'
        AND NOT EXISTS (SELECT 1 FROM public.verification_runs AS run WHERE run.id = (event.details->>'run_id')::bigint AND NOT run.passed)`);
    expect(orphans).toEqual([]);
    expect(rows.length).toBeGreaterThanOrEqual(1);
    expect(rows.map((row) => row.details?.run_id)).toEqual(rows.map((row) => Number(row.run_id)));
    const events = rows;
    for (const event of events) {
      expect(event.reason).toMatch(/^verification run \d+ of .* did not pass: .*seed rows exist/);
      expect(event.details.not_passed).toContainEqual(expect.objectContaining({ name: SEED_ROWS_CHECK, status: 'failed' }));
    }
    await worker.close();
  });

  it('fail naming the row when an audit entry was edited behind the append-only triggers', async () => {
    const { database, prefix, producer } = fixture.current;
    const worker = await startInProcessWorker(database, prefix);
    for (const action of ['kill_switch.release', 'kill_switch.engage', 'kill_switch.release'] as const) {
      expect((await waitForJob(producer, await producer.change({ action, actor: 'ops', reason: action }))).state).toBe('completed');
    }
    expect((await verify()).passed).toBe(true);

    await adminQuery(
      `ALTER TABLE public.governance_audit_log DISABLE TRIGGER USER;
       UPDATE public.governance_audit_log SET actor = 'mallory' WHERE id = 3;
       ALTER TABLE public.governance_audit_log ENABLE TRIGGER USER;`,
      database.name,
    );
    const result = await verify();
    expect(result.passed).toBe(false);
    expect(failing(result.checks)).toEqual([
      {
        name: AUDIT_CHAIN_CHECK,
        status: 'failed',
        detail: 'row 3: keyed hash does not match the row content (edited, or rehashed without the key)',
        // Rows 1 and 2 were read and found intact; no head is vouched for.
        coverage: { mode: 'full', after_checkpoint: null, after_row: null, rows: 2, head_row: null },
      },
    ]);
    await worker.close();
  });

  it('probe the api /health when API_URL is set: 200 passes, anything else fails the run', async () => {
    const { database, prefix } = fixture.current;
    let status = 200;
    const api = await startHealthServer(() => status);
    const worker = await startInProcessWorker(database, prefix, {
      env: { API_URL: api.url },
      app: { apiHealth: { tries: 2, retryDelayMs: 20, timeoutMs: 1_000 } },
    });
    const healthy = await verify();
    expect(healthy.passed).toBe(true);
    expect(healthy.checks).toContainEqual(expect.objectContaining({ name: API_HEALTH_CHECK, status: 'passed' }));

    status = 503;
    const unhealthy = await verify();
    expect(unhealthy.passed).toBe(false);
    expect(failing(unhealthy.checks)).toEqual([
      { name: API_HEALTH_CHECK, status: 'failed', detail: `GET /health answered 503 (2 failed measurement(s), limit 1)` },
    ]);

    await api.close();
    const unreachable = await verify();
    expect(failing(unreachable.checks)).toEqual([
      expect.objectContaining({ name: API_HEALTH_CHECK, status: 'inconclusive' }),
      expect.objectContaining({ name: RELEASE_SKEW_CHECK, status: 'inconclusive' }),
    ]);
    expect(unreachable.outcome).toBe('inconclusive');
    // Details are shown to every token holder: the reason, never the API's host or port.
    const { host, port } = new URL(api.url);
    for (const check of unreachable.checks) {
      expect(check.detail).not.toContain(host);
      expect(check.detail).not.toContain(port);
    }
    expect(failing(unreachable.checks).map((check) => check.detail).join(' ')).toContain('connection failed (ECONNREFUSED)');
    await worker.close();
  });

  it('store one run per job id when a job is delivered twice', async () => {
    const { database } = fixture.current;
    const migrator = createMigrator({ db: database.pool, migrationsDir: MIGRATIONS_DIR });
    const processor = createMigrationVerifyProcessor({
      pool: database.pool,
      migrator,
      migrationHead: (await migrator.chain()).head,
      release: 'fallback-release',
      apiUrl: undefined,
      auditKeyring: createAuditKeyring([DEVELOPMENT_AUDIT_KEY]),
      changeMaxAgeSeconds: 3600,
    });
    const job = { id: 'redelivered-verify', name: JOB_NAMES.migrationVerify, queueName: QUEUES.verification, data: { actor: 'ops' }, timestamp: Date.now(), opts: {} } as unknown as Job;
    const log = createLogger({ name: 'test', level: 'silent' });
    const first = await processor(job, log);
    const second = await processor(job, log);
    expect(second.value.runId).toBe(first.value.runId);
    const rows = await database.pool.any(sql.unsafe`SELECT release FROM public.verification_runs WHERE job_id = 'redelivered-verify'`);
    expect(rows).toEqual([{ release: 'fallback-release' }]);

    // A counter id is keyed with its creation time: a redelivery finds its run, a new job with the same id gets its own.
    const counterJob = (timestamp: number) =>
      ({ id: '7', name: JOB_NAMES.migrationVerify, queueName: QUEUES.verification, data: { actor: 'ops' }, timestamp, opts: {} }) as unknown as Job;
    const created = Date.now();
    const once = await processor(counterJob(created), log);
    expect((await processor(counterJob(created), log)).value.runId).toBe(once.value.runId);
    expect((await processor(counterJob(created + 1), log)).value.runId).not.toBe(once.value.runId);
    expect(await database.pool.anyFirst(sql.unsafe`SELECT job_id FROM public.verification_runs WHERE job_id LIKE '7@%' ORDER BY id`)).toEqual([`7@${created}`, `7@${created + 1}`]);

    // Expiry counts from when the job was due: a watchdog run is created one interval (opts.delay) before it is due.
    const createdLongAgo = Date.now() - 3_700_000;
    const due = { id: 'scheduled-verify', name: JOB_NAMES.migrationVerify, queueName: QUEUES.verification, data: { actor: 'watchdog' }, timestamp: createdLongAgo, opts: { delay: 3_600_000 } };
    await expect(processor(due as unknown as Job, log)).resolves.toMatchObject({ value: { runId: expect.any(Number) } });
    const stale = { ...due, id: 'stale-verify', opts: {} };
    await expect(processor(stale as unknown as Job, log)).rejects.toThrow(/CHANGE_MAX_AGE_SECONDS/);
  });

  it('fail an invalid payload at once with INVALID_PAYLOAD', async () => {
    const { database, prefix, producer } = fixture.current;
    const worker = await startInProcessWorker(database, prefix);
    const job = await producer.queues.byName[QUEUES.verification].add(JOB_NAMES.migrationVerify, { actor: 'ops', release: 7 }, { attempts: 3, priority: 10 });
    const outcome = await waitForJob(producer, job.id!);
    expect(outcome).toMatchObject({ state: 'failed', attemptsMade: 1 });
    expect(decodeJobFailure(outcome.failedReason ?? '')).toMatchObject({ code: 'INVALID_PAYLOAD', final: true, message: expect.stringMatching(/release/) });
    await worker.close();
  });

  it('is enqueued once per release when two workers start at the same time', async () => {
    const { database, prefix, producer } = fixture.current;
    const workers = await Promise.all([startInProcessWorker(database, prefix), startInProcessWorker(database, prefix)]);
    const jobId = startupVerificationJobId(TEST_RELEASE, workers[0].migrationHead);
    const outcome = await waitForJob(producer, jobId);
    expect(outcome.state).toBe('completed');
    expect((outcome.returnvalue as MigrationVerifyResult).passed).toBe(true);

    const counts = await producer.queues.byName[QUEUES.verification].getJobCounts('completed', 'failed', 'active', 'wait', 'prioritized', 'delayed');
    expect(Object.values(counts).reduce((sum, n) => sum + n, 0)).toBe(1);
    const runs = await database.pool.any(sql.unsafe`SELECT job_id, release, actor FROM public.verification_runs`);
    expect(runs).toEqual([{ job_id: jobId, release: TEST_RELEASE, actor: 'system:worker' }]);
    await Promise.all(workers.map((worker) => worker.close()));
  });
});
