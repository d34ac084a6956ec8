import { UnrecoverableError, Worker } from 'bullmq';
import { describe, expect, it } from 'vitest';
import { buildServer } from '../../apps/api/src/index.js';
import { createAuditKeyring, createLogger, DEVELOPMENT_AUDIT_KEY, verifyAuditChain, type GovernanceQueues } from '../../packages/core/src/index.js';
import { encodeJobFailure, jobFailureOf } from '../../packages/contract/src/index.js';
import { createMigrator } from '../../packages/core/src/migrator/index.js';
import { MIGRATIONS_DIR } from '../helpers/globalSetup.js';
import { createTestRedis } from '../helpers/redis.js';
import { waitFor } from '../helpers/waitFor.js';
import { ALICE, bearer, quitRedis, useApi, type ApiHarness } from './support.js';

const api = useApi();

type AuditItem = { id: number; job_id: string; action: string; outcome: string; actor: string; reason: string; request_id: string | null; before: unknown; after: unknown; unmet_conditions: string[] };

const retry = (id: string, body: unknown = { reason: 'transient failure fixed' }, headers: Record<string, string> = bearer()) =>
  api.current.app.inject({ method: 'POST', url: `/api/jobs/${id}/retry`, payload: body as object, headers });
const get = (url: string) => api.current.app.inject({ method: 'GET', url, headers: bearer() });
const auditItems = async (): Promise<AuditItem[]> => (await get('/api/governance/audit?limit=200')).json().items;
const retryEntries = async () => (await auditItems()).filter((item) => item.action === 'job.retry');

/**
 * Runs a throwaway BullMQ worker on the api's governance queue until `jobs` have settled: ids starting with `bad`
 * fail at once (UnrecoverableError, as the worker does with an invalid payload), the others complete.
 */
const settleJobs = async (harness: ApiHarness, jobs: string[]) => {
  const queue = harness.queues.byName.governance;
  const redis = createTestRedis();
  const worker = new Worker(
    'governance',
    async (job) => {
      // A job that failed unexpectedly (not final): an operator may retry it once the cause is fixed.
      if (job.id?.startsWith('bad') === true) throw new UnrecoverableError(encodeJobFailure(jobFailureOf('INTERNAL_ERROR', 'the worker failed unexpectedly')));
      // A job whose payload is invalid: final, a retry would fail the same way.
      if (job.id?.startsWith('invalid') === true) throw new UnrecoverableError(encodeJobFailure(jobFailureOf('INVALID_PAYLOAD', 'invalid job payload: action: required')));
      return { outcome: 'applied' };
    },
    { connection: redis, prefix: harness.prefix },
  );
  try {
    for (const id of jobs) await queue.add('go-live-change', { not: 'a valid payload' }, { jobId: id, attempts: 5, priority: 10 });
    await waitFor(
      async () => {
        const states = await Promise.all(jobs.map(async (id) => (await queue.getJob(id))?.getState()));
        return states.every((state) => state === 'failed' || state === 'completed');
      },
      { description: `jobs ${jobs.join(', ')} to settle` },
    );
  } finally {
    await worker.close();
    await quitRedis(redis);
  }
};

describe('POST /api/jobs/:id/retry', () => {
  it('moves a failed job back to waiting, answers 202 and writes one audit entry with the request id', async () => {
    await settleJobs(api.current, ['bad-1']);
    expect((await get('/api/jobs/bad-1')).json()).toMatchObject({ state: 'failed', error: { code: 'INTERNAL_ERROR', final: false } });
    const before = await retryEntries();

    const response = await retry('bad-1', { reason: 'payload source fixed' }, { ...bearer(), 'x-request-id': 'retry-req-1' });
    expect(response.statusCode).toBe(202);
    expect(response.json()).toEqual({ jobId: 'bad-1', status: 'queued' });
    expect(response.headers['x-request-id']).toBe('retry-req-1');

    expect((await get('/api/jobs/bad-1')).json()).toMatchObject({ state: 'waiting', attempts: 0, error: null });
    const entries = await retryEntries();
    expect(entries).toHaveLength(before.length + 1);
    const [entry] = entries;
    expect(entry).toMatchObject({
      action: 'job.retry',
      outcome: 'applied',
      actor: ALICE.actor,
      reason: 'payload source fixed',
      request_id: 'retry-req-1',
      unmet_conditions: [],
    });
    expect(entry?.job_id).toMatch(/^job\.retry:bad-1:[0-9a-f-]{36}$/);
    expect(entry?.after).toEqual(entry?.before);
    const status = (await get('/api/governance/runbook/status')).json();
    expect(entry?.before).toMatchObject({
      go_live_enabled: status.go_live_state.go_live_enabled,
      kill_switch_engaged: status.go_live_state.kill_switch_engaged,
      live: status.live,
    });
    expect((await verifyAuditChain(api.current.database.pool, createAuditKeyring([DEVELOPMENT_AUDIT_KEY]), { mode: 'full' })).problem).toBeNull();
  });

  it('answers 409 JOB_NOT_RETRYABLE for a job whose failure is final (invalid payload), and audits nothing', async () => {
    await settleJobs(api.current, ['invalid-1']);
    expect((await get('/api/jobs/invalid-1')).json()).toMatchObject({ state: 'failed', error: { code: 'INVALID_PAYLOAD', final: true } });
    const before = (await retryEntries()).length;
    const response = await retry('invalid-1');
    expect(response.statusCode).toBe(409);
    expect(response.json().error.code).toBe('JOB_NOT_RETRYABLE');
    expect(response.json().error.message).toContain('INVALID_PAYLOAD');
    expect((await get('/api/jobs/invalid-1')).json()).toMatchObject({ state: 'failed' });
    expect((await retryEntries()).length).toBe(before);
  });

  it('answers 409 JOB_NOT_RETRYABLE for a job that is not in the failed set, and audits nothing', async () => {
    await settleJobs(api.current, ['done-1']);
    await api.current.queues.byName.governance.add('go-live-change', {}, { jobId: 'waiting-1', priority: 10 });
    const before = (await retryEntries()).length;
    for (const [id, state] of [['done-1', 'completed'], ['waiting-1', 'waiting']] as const) {
      const response = await retry(id);
      expect(response.statusCode).toBe(409);
      expect(response.json().error.code).toBe('JOB_NOT_RETRYABLE');
      expect(response.json().error.message).toContain(state);
    }
    expect((await retryEntries()).length).toBe(before);
  });

  it('reads the job ids the verification scheduler gives (repeat:<scheduler>:<millis>)', async () => {
    const queue = api.current.queues.byName.verification;
    // The scheduler adds its jobs itself, with ids BullMQ refuses from add() (they hold colons).
    const scheduled = await queue.upsertJobScheduler('valhalla:verification-watchdog', { every: 3_600_000 }, { name: 'migration-verify', data: { actor: 'system:watchdog' } });
    const id = scheduled.id ?? '';
    expect(id).toMatch(/^repeat:valhalla:verification-watchdog:\d+$/);
    const found = await get(`/api/jobs/${id}`);
    expect(found.statusCode, found.body).toBe(200);
    expect(found.json()).toMatchObject({ id, queue: 'verification' });
    await queue.removeJobScheduler('valhalla:verification-watchdog');
    expect((await get('/api/jobs/repeat:valhalla:verification-watchdog:1')).statusCode).toBe(404);
  });

  it('answers 404 for an unknown job, 401 without a token, and 400 for a missing, blank or long reason', async () => {
    const unknown = await retry('no-such-job');
    expect(unknown.statusCode).toBe(404);
    expect(unknown.json().error.code).toBe('NOT_FOUND');

    const anonymous = await retry('no-such-job', { reason: 'x' }, {});
    expect(anonymous.statusCode).toBe(401);
    expect(anonymous.json().error.code).toBe('UNAUTHENTICATED');

    for (const body of [{}, { reason: '' }, { reason: '   ' }, { reason: 'x'.repeat(501) }, { reason: 'ok', extra: 1 }]) {
      const invalid = await retry('no-such-job', body);
      expect(invalid.statusCode, JSON.stringify(body)).toBe(400);
      expect(invalid.json().error.code).toBe('VALIDATION_FAILED');
    }
  });

  it('notes a retry that fails after it was audited with a linked rejected entry, and answers 409', async () => {
    await settleJobs(api.current, ['bad-race']);
    const harness = api.current;
    // Another operator retries the job between our state check and our retry: BullMQ then refuses ours.
    const racingQueues: GovernanceQueues = {
      ...harness.queues,
      findJob: async (id) => {
        const job = await harness.queues.findJob(id);
        if (job === undefined || (await job.getState()) !== 'failed') return job;
        const realRetry = job.retry.bind(job);
        job.retry = async (...args) => {
          await realRetry(...args);
          return realRetry(...args);
        };
        return job;
      },
    };
    const app = await buildServer({
      config: harness.config,
      logger: createLogger({ name: 'api-test', level: 'silent' }),
      pool: harness.database.pool,
      redis: harness.redis,
      queues: racingQueues,
      migrations: createMigrator({ db: harness.database.pool, migrationsDir: MIGRATIONS_DIR }),
    });
    try {
      const response = await app.inject({ method: 'POST', url: '/api/jobs/bad-race/retry', payload: { reason: 'race' }, headers: bearer() });
      expect(response.statusCode).toBe(409);
      expect(response.json().error.code).toBe('JOB_NOT_RETRYABLE');
    } finally {
      await app.close();
    }
    const [rejected, applied] = await retryEntries();
    expect(applied).toMatchObject({ outcome: 'applied', reason: 'race' });
    expect(rejected).toMatchObject({ outcome: 'rejected', reason: 'race', unmet_conditions: ['job_in_failed_set'], job_id: `${applied?.job_id}:failed` });
    expect((await verifyAuditChain(harness.database.pool, createAuditKeyring([DEVELOPMENT_AUDIT_KEY]), { mode: 'full' })).problem).toBeNull();
  });
});
