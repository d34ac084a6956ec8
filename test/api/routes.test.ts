import { Worker } from 'bullmq';
import { describe, expect, it } from 'vitest';
import { appendAuditEntries, AUDIT_CHAIN_CHECK, createAuditKeyring, DEVELOPMENT_AUDIT_KEY, sql } from '../../packages/core/src/index.js';
import { ERROR_CODES, GOVERNANCE_ACTIONS, encodeJobFailure, jobFailureOf } from '../../packages/contract/src/index.js';
import { ALICE, BOB, bearer, jobData, quitRedis, startApi, useApi } from './support.js';
import { useTestDatabase } from '../helpers/database.js';
import { createTestRedis } from '../helpers/redis.js';
import { waitFor } from '../helpers/waitFor.js';

const api = useApi();
const other = useTestDatabase({ poolSize: 2 });

const post = (url: string, payload: unknown, headers: Record<string, string> = {}) =>
  api.current.app.inject({ method: 'POST', url, payload: payload as object, headers: { ...bearer(), ...headers } });
const get = (url: string, headers: Record<string, string> = bearer()) => api.current.app.inject({ method: 'GET', url, headers });

/** A passed verification run that finished `agoSeconds` ago. */
const insertVerificationRun = (jobId: string, agoSeconds = 0) =>
  api.current.database.pool.query(sql.unsafe`
    INSERT INTO public.verification_runs (job_id, release, migration_head, actor, started_at, finished_at, passed, checks)
    VALUES (${jobId}, 'r1', 'h', 'alice', now() - make_interval(secs => ${agoSeconds}), now() - make_interval(secs => ${agoSeconds}), true,
            '[{"name":"c","status":"passed","detail":"ok"}]')`);

const expectError = (response: { statusCode: number; json: () => unknown }, code: keyof typeof ERROR_CODES) => {
  expect(response.statusCode).toBe(ERROR_CODES[code].status);
  const body = response.json() as { error: { code: string; message: string } };
  expect(body.error.code).toBe(code);
  expect(typeof body.error.message).toBe('string');
  return body.error;
};

describe('GET /health', () => {
  it('answers 200 with both checks ok, without a token', async () => {
    const response = await api.current.app.inject({ method: 'GET', url: '/health' });
    expect(response.statusCode).toBe(200);
    expect(response.json()).toEqual({ status: 'ok', checks: { database: 'ok', redis: 'ok' }, release: expect.any(String), paused_queues: [] });
    expect(response.headers['x-request-id']).toBeTruthy();
  });
});

describe('authentication', () => {
  it.each([
    ['no header', {}],
    ['wrong token', { authorization: 'Bearer nope-nope-nope-nope-nope-nope' }],
    ['wrong scheme', { authorization: `Basic ${ALICE.token}` }],
    ['token only', { authorization: ALICE.token }],
    ['token with a suffix', { authorization: `Bearer ${ALICE.token}x` }],
  ])('rejects %s with 401 and enqueues nothing', async (_label, headers) => {
    const before = await api.current.jobCount();
    const response = await api.current.app.inject({
      method: 'POST',
      url: '/api/governance/kill-switch',
      payload: { engaged: true, reason: 'x' },
      headers,
    });
    expectError(response, 'UNAUTHENTICATED');
    expect(response.headers['www-authenticate']).toBe('Bearer');
    expect(await api.current.jobCount()).toBe(before);
    expectError(await get('/api/governance/runbook/status', headers), 'UNAUTHENTICATED');
  });

  it('records the token\'s actor, whatever the body claims', async () => {
    const response = await post('/api/governance/kill-switch', { engaged: false, reason: 'release it', actor: 'mallory' });
    expectError(response, 'VALIDATION_FAILED');
    const accepted = await post('/api/governance/kill-switch', { engaged: false, reason: 'release it' }, bearer(BOB.token));
    expect(accepted.statusCode).toBe(202);
    expect((await jobData(api.current, accepted.json().jobId)).actor).toBe(BOB.actor);
  });
});

describe('POST governance changes', () => {
  it.each([
    ['/api/governance/go-live', { enabled: true, reason: 'launch' }, { action: GOVERNANCE_ACTIONS.goLiveEnable }],
    ['/api/governance/kill-switch', { engaged: false, reason: 'resolved' }, { action: GOVERNANCE_ACTIONS.killSwitchRelease }],
    [
      '/api/governance/system-metadata',
      { version: '2.0.0', backend_complete: true, notes: 'n', reason: 'done' },
      { action: GOVERNANCE_ACTIONS.metadataUpdate, metadata: { version: '2.0.0', backend_complete: true, notes: 'n' } },
    ],
    [
      '/api/governance/system-metadata',
      { backend_complete: false, reason: 'not yet' },
      { action: GOVERNANCE_ACTIONS.metadataUpdate, metadata: { backend_complete: false } },
    ],
  ])('%s %o answers 202 once PostgreSQL holds it, and enqueues a go-live-change job', async (url, body, expected) => {
    const response = await post(url, body, { 'x-request-id': 'req-123' });
    expect(response.statusCode).toBe(202);
    const { jobId, status } = response.json();
    expect(status).toBe('queued');
    expect(response.headers['x-request-id']).toBe('req-123');
    const job = await api.current.queues.findJob(jobId);
    expect(job?.name).toBe('go-live-change');
    expect(job?.queueName).toBe('governance');
    const data = { ...expected, actor: ALICE.actor, reason: body.reason, requestId: 'req-123' };
    expect(job?.data).toEqual(data);
    // The acceptance record: the same job, numbered, on the database's clock, not executed yet.
    const accepted = (await api.current.database.pool.one(sql.unsafe`
      SELECT queue, job_name, payload, actor, seq, settled_at FROM public.governance_accepted_jobs WHERE job_id = ${jobId}`)) as { seq: number };
    expect(accepted).toMatchObject({ queue: 'governance', job_name: 'go-live-change', payload: data, actor: ALICE.actor, settled_at: null });
    expect(accepted.seq).toBeGreaterThan(0);
  });

  it.each([
    ['/api/governance/go-live', { enabled: false, reason: 'pause' }, GOVERNANCE_ACTIONS.goLiveDisable],
    ['/api/governance/kill-switch', { engaged: true, reason: 'incident' }, GOVERNANCE_ACTIONS.killSwitchEngage],
  ])('%s %o is applied in the request: 200 completed with its result and audit entry, nothing queued', async (url, body, action) => {
    const before = await api.current.jobCount();
    const response = await post(url, body, { 'x-request-id': 'req-456' });
    expect(response.statusCode).toBe(200);
    const { jobId, status, result } = response.json();
    expect(status).toBe('completed');
    expect(result).toMatchObject({ action, outcome: expect.stringMatching(/^(applied|unchanged)$/), auditId: expect.any(Number) });
    expect(await api.current.jobCount()).toBe(before);
    const entry = await api.current.database.pool.one(sql.unsafe`
      SELECT job_id, action, actor, reason, request_id FROM public.governance_audit_log WHERE id = ${result.auditId}`);
    expect(entry).toEqual({ job_id: jobId, action, actor: ALICE.actor, reason: body.reason, request_id: 'req-456' });
    const job = await api.current.app.inject({ method: 'GET', url: `/api/jobs/${jobId}`, headers: bearer() });
    expect(job.json()).toMatchObject({ id: jobId, queue: 'governance-safety', state: 'completed', result: { auditId: result.auditId } });
  });

  it('POST /verify enqueues a migration-verify job, with or without a body', async () => {
    const withRelease = await post('/api/governance/verify', { release: 'r42' });
    expect(withRelease.statusCode).toBe(202);
    const job = await api.current.queues.findJob(withRelease.json().jobId);
    expect(job?.name).toBe('migration-verify');
    expect(job?.queueName).toBe('verification');
    expect(job?.data).toMatchObject({ release: 'r42', actor: ALICE.actor });

    const empty = await post('/api/governance/verify', {});
    expect(empty.statusCode).toBe(202);
    expect(await jobData(api.current, empty.json().jobId)).not.toHaveProperty('release');

    const noBody = await api.current.app.inject({ method: 'POST', url: '/api/governance/verify', headers: bearer() });
    expect(noBody.statusCode).toBe(202);
  });

  it('replaces a malformed X-Request-Id with a generated one', async () => {
    const response = await post('/api/governance/verify', {}, { 'x-request-id': 'bad id with spaces <script>' });
    expect(response.headers['x-request-id']).toMatch(/^[0-9a-f-]{36}$/);
    expect((await jobData(api.current, response.json().jobId)).requestId).toBe(response.headers['x-request-id']);
  });

  it('answers 400 VALIDATION_FAILED naming each field', async () => {
    const error = expectError(await post('/api/governance/go-live', { enabled: 'yes', extra: 1 }), 'VALIDATION_FAILED');
    expect(error).toHaveProperty('details');
    const fields = (error as unknown as { details: { field: string }[] }).details.map((d) => d.field).sort();
    expect(fields).toEqual(['enabled', 'extra', 'reason']);
  });

  it('answers 400 when system-metadata sets no field', async () => {
    expectError(await post('/api/governance/system-metadata', { reason: 'nothing' }), 'VALIDATION_FAILED');
  });

  it('answers 400 INVALID_JSON, 413 PAYLOAD_TOO_LARGE and 415 UNSUPPORTED_MEDIA_TYPE', async () => {
    const raw = (payload: string | Buffer, contentType = 'application/json') =>
      api.current.app.inject({ method: 'POST', url: '/api/governance/go-live', payload, headers: { ...bearer(), 'content-type': contentType } });
    expectError(await raw('{"enabled": true,'), 'INVALID_JSON');
    expectError(await raw(''), 'INVALID_JSON');
    expectError(await raw(JSON.stringify({ enabled: true, reason: 'x'.repeat(20_000) })), 'PAYLOAD_TOO_LARGE');
    expectError(await raw('enabled=true', 'application/x-www-form-urlencoded'), 'UNSUPPORTED_MEDIA_TYPE');
    expectError(await raw('{"enabled":true,"reason":"x"}', 'text/plain'), 'UNSUPPORTED_MEDIA_TYPE');
  });

  it('answers 429 RATE_LIMITED per token once the limit is used up, and others are not affected', async () => {
    const limited = await startApi(other.current, { env: { RATE_LIMIT_PER_MINUTE: '3' } });
    try {
      const send = (token: string) =>
        limited.app.inject({ method: 'POST', url: '/api/governance/verify', payload: {}, headers: bearer(token) });
      for (let i = 0; i < 3; i += 1) expect((await send(ALICE.token)).statusCode).toBe(202);
      const refused = await send(ALICE.token);
      expectError(refused, 'RATE_LIMITED');
      expect(refused.headers['retry-after']).toBeTruthy();
      expect((await send(BOB.token)).statusCode).toBe(202);
      expect(await limited.jobCount()).toBe(4);
      // GET routes are not rate limited.
      expect((await limited.app.inject({ method: 'GET', url: '/api/governance/audit', headers: bearer() })).statusCode).toBe(200);
    } finally {
      await limited.close();
    }
  });
});

describe('CORS', () => {
  it('is off without CORS_ORIGINS and answers preflights for the configured origins', async () => {
    const preflight = (app: typeof api.current.app, origin: string) =>
      app.inject({
        method: 'OPTIONS',
        url: '/api/governance/go-live',
        headers: { origin, 'access-control-request-method': 'POST', 'access-control-request-headers': 'authorization,content-type' },
      });
    expect((await preflight(api.current.app, 'https://ops.example.com')).headers['access-control-allow-origin']).toBeUndefined();
    const withCors = await startApi(other.current, { env: { CORS_ORIGINS: 'https://ops.example.com' } });
    try {
      const allowed = await preflight(withCors.app, 'https://ops.example.com');
      expect(allowed.statusCode).toBe(204);
      expect(allowed.headers['access-control-allow-origin']).toBe('https://ops.example.com');
      expect((await preflight(withCors.app, 'https://evil.example.com')).headers['access-control-allow-origin']).toBeUndefined();
      // A browser reads the live state's ETag (to send If-None-Match) from a cross-origin answer.
      const live = await withCors.app.inject({ method: 'GET', url: '/api/governance/live', headers: { ...bearer(), origin: 'https://ops.example.com' } });
      expect(String(live.headers['access-control-expose-headers'])).toMatch(/ETag/);
    } finally {
      await withCors.close();
    }
  });
});

describe('GET /api/jobs/:id', () => {
  it('answers the job with its contract fields', async () => {
    const { jobId } = (await post('/api/governance/kill-switch', { engaged: false, reason: 'x' })).json();
    const response = await get(`/api/jobs/${jobId}`);
    expect(response.statusCode).toBe(200);
    expect(response.json()).toEqual({ id: jobId, queue: 'governance', name: 'go-live-change', state: 'waiting', attempts: 0, result: null, error: null });
  });

  it('shows completed and failed jobs with their result and error code', async () => {
    const queue = api.current.queues.byName.governance;
    const redis = createTestRedis();
    const worker = new Worker(
      'governance',
      async (job) => {
        if (job.id === 'fail-1') throw new Error(encodeJobFailure(jobFailureOf('PRECONDITION_FAILED', 'go-live enable rejected, unmet: backend_complete')));
        // What another worker (or BullMQ itself) might leave: text, never shown.
        if (job.id === 'leak-1') throw new Error('connect ECONNREFUSED 10.1.2.3:5432\n    at TCPConnectWrap.afterConnect');
        return { outcome: 'applied' };
      },
      { connection: redis, prefix: api.current.prefix },
    );
    try {
      await queue.add('go-live-change', { any: 1 }, { jobId: 'done-1', priority: 1 });
      await queue.add('go-live-change', { any: 2 }, { jobId: 'fail-1', attempts: 1, priority: 1 });
      await queue.add('go-live-change', { any: 3 }, { jobId: 'leak-1', attempts: 1, priority: 1 });
      await waitFor(async () => (await get('/api/jobs/leak-1')).json().state === 'failed', { description: 'job leak-1 failed' });
      await waitFor(async () => (await get('/api/jobs/fail-1')).json().state === 'failed', { description: 'job fail-1 failed' });
      await waitFor(async () => (await get('/api/jobs/done-1')).json().state === 'completed', { description: 'job done-1 completed' });
    } finally {
      await worker.close();
      await quitRedis(redis);
    }
    expect((await get('/api/jobs/done-1')).json()).toMatchObject({ state: 'completed', result: { outcome: 'applied' }, error: null, attempts: 1 });
    expect((await get('/api/jobs/fail-1')).json()).toMatchObject({
      state: 'failed',
      attempts: 1,
      result: null,
      error: { code: 'PRECONDITION_FAILED', message: 'go-live enable rejected, unmet: backend_complete', final: true },
    });
    const leak = await get('/api/jobs/leak-1');
    expect(leak.json()).toMatchObject({ state: 'failed', error: { code: 'JOB_INTERRUPTED', final: false } });
    expect(leak.body).not.toMatch(/10\.1\.2\.3|5432|ECONNREFUSED|at TCP/);
  });

  it('answers 404 NOT_FOUND for an unknown id and 400 for a malformed one', async () => {
    expectError(await get('/api/jobs/does-not-exist'), 'NOT_FOUND');
    expectError(await get('/api/jobs/bad%20id'), 'VALIDATION_FAILED');
    expectError(await get(`/api/jobs/${'a'.repeat(201)}`), 'VALIDATION_FAILED');
  });
});

describe('GET /api/governance/runbook/status', () => {
  it('answers both rows with their table columns, live, migrations, last verification and workers', async () => {
    const response = await get('/api/governance/runbook/status');
    expect(response.statusCode).toBe(200);
    const body = response.json();
    expect(Object.keys(body.system_metadata).sort()).toEqual(['backend_complete', 'completed_at', 'id', 'notes', 'updated_at', 'version']);
    expect(Object.keys(body.go_live_state).sort()).toEqual(['changed_by', 'go_live_enabled', 'id', 'kill_switch_engaged', 'reason', 'updated_at']);
    expect(body.live).toBe(false);
    expect(body.go_live_state.kill_switch_engaged).toBe(true);
    expect(body.migrations.pending).toEqual([]);
    expect(body.migrations.applied.at(-1)).toBe(body.migrations.head);
    expect(body.migrations.applied[0]).toBe('20260113_golive_merge');
    expect(body.last_verification).toBeNull();
    expect(body.last_full_audit_check).toBeNull();
    expect(body.workers).toEqual({ alive: 0, items: [] });
  });

  it('names the newest run whose audit-chain check read every row, past newer incremental runs', async () => {
    const pool = api.current.database.pool;
    const chainCheck = (mode: string, afterRow: number | null, rows: number) =>
      JSON.stringify([{ name: AUDIT_CHAIN_CHECK, status: 'passed', detail: 'd', coverage: { mode, after_checkpoint: afterRow === null ? null : 1, after_row: afterRow, rows, head_row: 12 } }]);
    await pool.query(sql.unsafe`
      INSERT INTO public.verification_runs (job_id, release, migration_head, actor, started_at, finished_at, passed, checks)
      VALUES ('full-1', 'r1', 'h', 'alice', now() - interval '2 hours', now() - interval '2 hours', true, ${chainCheck('full', null, 11)}::jsonb),
             ('incr-1', 'r1', 'h', 'watchdog', now() - interval '1 hour', now() - interval '1 hour', true, ${chainCheck('incremental', 11, 1)}::jsonb)`);
    try {
      const body = (await get('/api/governance/runbook/status')).json();
      expect(body.last_verification.checks[0].coverage).toEqual({ mode: 'incremental', after_checkpoint: 1, after_row: 11, rows: 1, head_row: 12 });
      expect(body.last_full_audit_check).toMatchObject({
        run_id: expect.any(Number),
        finished_at: expect.stringMatching(/Z$/),
        check: { name: AUDIT_CHAIN_CHECK, status: 'passed', coverage: { mode: 'full', rows: 11 } },
      });
    } finally {
      await pool.query(sql.unsafe`DELETE FROM public.verification_runs WHERE job_id IN ('full-1', 'incr-1')`);
    }
  });

  it('derives live from row 1 and shows the latest verification', async () => {
    const pool = api.current.database.pool;
    await pool.query(sql.unsafe`UPDATE public.go_live_state SET go_live_enabled = true, kill_switch_engaged = false WHERE id = 1`);
    await insertVerificationRun('v1');
    try {
      const body = (await get('/api/governance/runbook/status')).json();
      expect(body.live).toBe(true);
      expect(body.last_verification).toMatchObject({ job_id: 'v1', passed: true, checks: [{ name: 'c', status: 'passed' }] });
    } finally {
      // The other cases of this file read row 1 and the runs as a fresh install has them.
      await pool.query(sql.unsafe`UPDATE public.go_live_state SET go_live_enabled = false, kill_switch_engaged = true WHERE id = 1`);
      await pool.query(sql.unsafe`DELETE FROM public.verification_runs WHERE job_id = 'v1'`);
    }
  });
});

describe('GET /api/governance/audit and /verifications', () => {
  it('pages the audit log newest first with a cursor', async () => {
    const pool = api.current.database.pool;
    const snapshot = { go_live_enabled: false, kill_switch_engaged: true, live: false, version: '1.0.0', backend_complete: false, notes: null };
    const earlier = (await get('/api/governance/audit?limit=100')).json().items.length;
    await pool.transaction(async (tx) =>
      appendAuditEntries(
        tx,
        Array.from({ length: 5 }, (_, i) => ({
          kind: 'change' as const,
          jobId: `j${i}`,
          action: 'kill_switch.engage',
          outcome: 'unchanged' as const,
          actor: 'alice',
          reason: `r${i}`,
          before: snapshot,
          after: snapshot,
        })),
        createAuditKeyring([DEVELOPMENT_AUDIT_KEY]),
      ),
    );
    const first = (await get('/api/governance/audit?limit=2')).json();
    expect(first.items.map((item: { reason: string }) => item.reason)).toEqual(['r4', 'r3']);
    expect(first.next).toBe(String(first.items[1].id));
    const second = (await get(`/api/governance/audit?limit=2&before=${first.next}`)).json();
    expect(second.items.map((item: { reason: string }) => item.reason)).toEqual(['r2', 'r1']);
    const third = (await get(`/api/governance/audit?limit=1&before=${second.next}`)).json();
    expect(third.items).toMatchObject([{ reason: 'r0', kind: 'change', key_id: DEVELOPMENT_AUDIT_KEY.id }]);
    const all = (await get('/api/governance/audit?limit=100')).json();
    // A key-rotation event comes first when these are the first signed entries.
    expect(all.items.length - earlier).toBeGreaterThanOrEqual(5);
    expect(all.items.length - earlier).toBeLessThanOrEqual(6);
    expect(all.next).toBeNull();
  });

  it('lists verification runs newest first with their checks', async () => {
    await insertVerificationRun('runs-older', 60);
    await insertVerificationRun('runs-newer');
    try {
      const body = (await get('/api/governance/verifications?limit=10')).json();
      expect(body.items.map((item: { job_id: string }) => item.job_id)).toEqual(['runs-newer', 'runs-older']);
      expect(body.items[0]).toMatchObject({ checks: [{ name: 'c', status: 'passed' }] });
    } finally {
      await api.current.database.pool.query(sql.unsafe`DELETE FROM public.verification_runs WHERE job_id IN ('runs-older', 'runs-newer')`);
    }
  });

  it.each(['limit=abc', 'limit=-1', 'limit=0', 'limit=100000', 'limit=201', 'before=xyz', 'before=0', 'limit=1&limit=2', 'page=2'])(
    'rejects ?%s with 400 VALIDATION_FAILED',
    async (query) => {
      expectError(await get(`/api/governance/audit?${query}`), 'VALIDATION_FAILED');
    },
  );

  it('rejects a bad verifications limit', async () => {
    expectError(await get('/api/governance/verifications?limit=abc'), 'VALIDATION_FAILED');
  });
});

describe('unknown routes', () => {
  it('answer 404 NOT_FOUND in the error shape', async () => {
    expectError(await get('/nope'), 'NOT_FOUND');
    expectError(await get('/api/governance/nope'), 'NOT_FOUND');
    expectError(await api.current.app.inject({ method: 'DELETE', url: '/api/governance/go-live', headers: bearer() }), 'NOT_FOUND');
  });
});

