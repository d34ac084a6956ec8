import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { verifyAuditChain, listAuditEntriesInOrder, recordApprovalsRequired, sql } from '../../packages/core/src/index.js';
import type { ManagedProcess } from '../helpers/processes.js';
import { waitFor } from '../helpers/waitFor.js';
import { runValhallaCli } from '../../apps/cli/src/valhalla/runValhallaCli.js';
import { startWorkerProcess } from './processes.js';
import { ALICE, BOB, bearer, TOKENS_ENV, useApi } from './support.js';

const CAROL = { actor: 'carol', token: 'carol-token-0123456789abcdef' } as const;
const READER = { actor: 'rita', token: 'rita-reader-token-0123456789' } as const;

const api = useApi({
  env: { GOVERNANCE_TOKENS: `${TOKENS_ENV},${CAROL.actor}:${CAROL.token}`, READER_TOKENS: `${READER.actor}:${READER.token}`, APPROVALS_REQUIRED: '2' },
});

let worker: ManagedProcess | undefined;
beforeAll(async () => {
  // What the api's entrypoint does at startup (this api is built in-process): a worker refuses another value.
  await recordApprovalsRequired(api.current.database.pool, api.current.config.auditKeyring, { value: 2, release: 'test' });
  worker = startWorkerProcess({
    databaseUrl: api.current.database.url,
    redisUrl: api.current.redisUrl,
    prefix: api.current.prefix,
    extra: { APPROVALS_REQUIRED: '2' },
  });
  await worker.waitForOutput(/worker ready/, 30_000);
});
afterAll(async () => {
  await worker?.stop();
});

const post = (url: string, token: string, payload: object) => api.current.app.inject({ method: 'POST', url, headers: bearer(token), payload });
const state = async () =>
  (await api.current.database.pool.one(sql.unsafe`SELECT go_live_enabled, kill_switch_engaged, changed_by, reason FROM public.go_live_state WHERE id = 1`)) as {
    go_live_enabled: boolean;
    kill_switch_engaged: boolean;
    changed_by: string | null;
    reason: string | null;
  };
const settled = (jobId: string) =>
  waitFor(
    async () => {
      const response = await api.current.app.inject({ method: 'GET', url: `/api/jobs/${jobId}`, headers: bearer() });
      const job = response.json<{ state: string; error: { code: string; message: string } | null }>();
      return job.state === 'completed' || job.state === 'failed' ? job : false;
    },
    { timeoutMs: 20_000, description: `job ${jobId} to settle` },
  );
const requestRelease = async (token: string, reason: string): Promise<string> => {
  const response = await post('/api/governance/kill-switch', token, { engaged: false, reason });
  expect(response.statusCode).toBe(202);
  expect(response.json()).toEqual({ changeRequestId: expect.any(String), status: 'pending_approval' });
  return response.json().changeRequestId as string;
};
const approve = (id: string, token: string, reason = 'looks right') => post(`/api/governance/change-requests/${id}/approve`, token, { reason });
const expectError = (response: { statusCode: number; json: () => { error: { code: string } } }, status: number, code: string) => {
  expect(response.statusCode).toBe(status);
  expect(response.json().error.code).toBe(code);
};

/** Releases the kill switch the four-eyes way: alice asks, bob approves, the worker applies it. */
const releaseWithApproval = async (reason: string) => {
  const id = await requestRelease(ALICE.token, reason);
  const approved = await approve(id, BOB.token, 'setup');
  expect(approved.statusCode).toBe(200);
  expect((await settled(approved.json().jobId)).state).toBe('completed');
  expect((await state()).kill_switch_engaged).toBe(false);
};

const TOKEN_OF: Record<string, string> = { [ALICE.actor]: ALICE.token, [BOB.actor]: BOB.token, [CAROL.actor]: CAROL.token };

// The cases share the worker and the database (a worker process per case would cost seconds): each starts from the
// kill switch engaged and no request pending, whatever the cases before it left.
beforeEach(async () => {
  const engage = await post('/api/governance/kill-switch', ALICE.token, { engaged: true, reason: 'test setup' });
  expect(engage.statusCode).toBe(200);
  expect(engage.json().status).toBe('completed');
  const pending = await api.current.app.inject({ method: 'GET', url: '/api/governance/change-requests?status=pending_approval', headers: bearer() });
  for (const request of pending.json<{ items: { id: string; requested_by: string }[] }>().items) {
    const cancelled = await post(`/api/governance/change-requests/${request.id}/cancel`, TOKEN_OF[request.requested_by] ?? '', { reason: 'test setup' });
    expect(cancelled.statusCode).toBe(200);
  }
});

describe('four-eyes change requests (APPROVALS_REQUIRED=2)', () => {
  it('rejects a release added straight to the queue, and one that borrows a pending request\'s id', async () => {
    const direct = await api.current.queues.enqueue('go-live-change', { action: 'kill_switch.release', actor: 'ops', reason: 'straight to Redis' });
    const job = await settled(direct.id ?? '');
    expect(job.state).toBe('failed');
    expect(job.error?.code).toBe('PRECONDITION_FAILED');
    expect(job.error?.message).toMatch(/approval/);

    const pendingId = await requestRelease(ALICE.token, 'borrowed');
    const forged = await api.current.queues.enqueue('go-live-change', {
      action: 'kill_switch.release', actor: 'alice', reason: 'borrowed', changeRequestId: pendingId, approvedBy: ['bob'],
    });
    expect((await settled(forged.id ?? '')).error?.code).toBe('PRECONDITION_FAILED');
    expect((await state()).kill_switch_engaged).toBe(true);
    const entries = await listAuditEntriesInOrder(api.current.database.pool);
    const ours = [direct.id, forged.id];
    expect(entries.filter((entry) => ours.includes(entry.job_id ?? undefined)).map((entry) => [entry.action, entry.outcome, entry.unmet_conditions])).toEqual([
      ['kill_switch.release', 'rejected', ['approval']],
      ['kill_switch.release', 'rejected', ['approval']],
    ]);
    expect((await post(`/api/governance/change-requests/${pendingId}/cancel`, ALICE.token, { reason: 'was a test' })).json().status).toBe('cancelled');
  });

  it('does not let the requester approve; a second operator\'s approval enqueues and applies it as the requester\'s change', async () => {
    const id = await requestRelease(ALICE.token, 'incident closed');
    expectError(await approve(id, ALICE.token), 403, 'SELF_APPROVAL');
    expectError(await approve(id, READER.token), 403, 'FORBIDDEN');
    const listed = await api.current.app.inject({ method: 'GET', url: '/api/governance/change-requests?status=pending_approval', headers: bearer(READER.token) });
    expect(listed.statusCode).toBe(200);
    expect(listed.json().items).toEqual([
      expect.objectContaining({ id, action: 'kill_switch.release', requested_by: 'alice', reason: 'incident closed', approvals: [], required: 2, status: 'pending_approval' }),
    ]);

    const approved = await approve(id, BOB.token, 'checked the dashboards');
    expect(approved.statusCode).toBe(200);
    const body = approved.json();
    expect(body).toMatchObject({ status: 'enqueued', jobId: `change-request-${id}`, approvals: [expect.objectContaining({ approver: 'bob', reason: 'checked the dashboards' })] });
    const job = await settled(body.jobId);
    expect(job.state).toBe('completed');
    expect(await state()).toEqual({ go_live_enabled: false, kill_switch_engaged: false, changed_by: 'alice', reason: 'incident closed' });
    const data = (await api.current.queues.findJob(body.jobId))?.data;
    expect(data).toMatchObject({ actor: 'alice', changeRequestId: id, approvedBy: ['bob'] });

    // Once applied, the request is closed: a late approval does nothing.
    expectError(await approve(id, CAROL.token), 409, 'CHANGE_REQUEST_CLOSED');

    const entries = await listAuditEntriesInOrder(api.current.database.pool);
    const steps = entries.filter((entry) => (entry.kind === 'event' && entry.details.change_request === id) || entry.job_id === body.jobId);
    expect(steps.map((entry) => [entry.action, entry.actor, entry.reason, entry.outcome])).toEqual([
      ['change_request.requested', 'alice', 'incident closed', null],
      ['change_request.approved', 'bob', 'checked the dashboards', null],
      ['change_request.enqueued', 'bob', expect.stringMatching(/for alice; approved by bob/), null],
      ['kill_switch.release', 'alice', 'incident closed', 'applied'],
    ]);
    expect((await verifyAuditChain(api.current.database.pool, api.current.config.auditKeyring, { mode: 'full' })).problem).toBeNull();
  });

  it('voids a request when the state changed before approval: 409, nothing enqueued or applied', async () => {
    // The engage below must change the state (an engage of an engaged switch leaves its version as it is).
    await releaseWithApproval('released so that the engage applies');
    const id = await requestRelease(BOB.token, 'release again later');
    // Engage goes through at once (never needs approval) and changes the state's version.
    const engage = await post('/api/governance/kill-switch', CAROL.token, { engaged: true, reason: 'new incident' });
    expect(engage.statusCode).toBe(200);
    expect(engage.json().result.outcome).toBe('applied');
    const before = await api.current.jobCount();
    const stale = await approve(id, ALICE.token);
    expectError(stale, 409, 'CHANGE_REQUEST_STALE');
    expect(stale.json().error.message).toMatch(/state changed/);
    expect(await api.current.jobCount()).toBe(before);
    expect((await state()).kill_switch_engaged).toBe(true);
    const listed = await api.current.app.inject({ method: 'GET', url: '/api/governance/change-requests', headers: bearer() });
    expect(listed.json().items.find((item: { id: string }) => item.id === id)).toMatchObject({ status: 'stale' });
    expectError(await approve(id, CAROL.token), 409, 'CHANGE_REQUEST_CLOSED');
  });

  it('counts a request from when it was made: an engage between request and approval supersedes the release', async () => {
    // The switch is engaged (beforeEach): the engage below changes nothing, so the request does not go stale, but it
    // records the operator's intent to be safe as of then.
    const id = await requestRelease(ALICE.token, 'requested before the incident');
    const engage = await post('/api/governance/kill-switch', CAROL.token, { engaged: true, reason: 'incident after the request' });
    expect(engage.json()).toMatchObject({ status: 'completed', result: { outcome: 'unchanged' } });
    const approved = await approve(id, BOB.token, 'approved after the incident');
    expect(approved.statusCode).toBe(200);
    const job = await settled(approved.json().jobId);
    expect(job.state).toBe('failed');
    expect(job.error?.code).toBe('SUPERSEDED');
    expect((await state()).kill_switch_engaged).toBe(true);
    const entry = (await listAuditEntriesInOrder(api.current.database.pool)).find((candidate) => candidate.job_id === approved.json().jobId);
    expect(entry).toMatchObject({ action: 'kill_switch.release', outcome: 'rejected', unmet_conditions: ['not_superseded'] });
  });

  it('expires requests: approval after the expiry is 409, the listing shows them expired, and the next step records the expiry', async () => {
    const id = await requestRelease(ALICE.token, 'will expire');
    const other = await requestRelease(ALICE.token, 'will expire unseen');
    // Time travel on the row instead of waiting APPROVAL_TTL_MINUTES.
    const expire = (which: string) =>
      api.current.database.pool.query(sql.unsafe`UPDATE public.change_requests SET expires_at = now() - interval '1 second' WHERE id = ${which}`);
    await expire(id);
    const expired = await approve(id, BOB.token);
    expectError(expired, 409, 'CHANGE_REQUEST_STALE');
    expect(expired.json().error.message).toMatch(/expired/);
    await expire(other);
    const expiredEvents = async () =>
      (await listAuditEntriesInOrder(api.current.database.pool)).filter(
        (entry) => entry.kind === 'event' && entry.action === 'change_request.expired' && [id, other].includes(String(entry.details.change_request)),
      );
    expect(await expiredEvents()).toHaveLength(1);
    const listed = await api.current.app.inject({ method: 'GET', url: '/api/governance/change-requests?status=expired', headers: bearer() });
    const ours = [id, other];
    const listedOurs = listed.json().items.filter((item: { id: string }) => ours.includes(item.id));
    expect(listedOurs.map((item: { id: string; status: string }) => [item.id, item.status]).sort()).toEqual(ours.sort().map((x) => [x, 'expired']));
    expect(listedOurs.find((item: { id: string }) => item.id === other)).toMatchObject({ close_reason: expect.stringMatching(/^expired at .* with 1 of 2 approvals$/) });
    // The listing wrote nothing: the unseen request's expiry is recorded by the next change-request step.
    expect(await expiredEvents()).toHaveLength(1);
    const next = await requestRelease(BOB.token, 'a later request');
    expect(await expiredEvents()).toHaveLength(2);
    expect((await post(`/api/governance/change-requests/${next}/cancel`, BOB.token, { reason: 'done' })).statusCode).toBe(200);
  });

  it('lists change requests without the governance lock and without writing, as a reader, while row 1 is held', async () => {
    const due = await requestRelease(ALICE.token, 'due while the lock is held');
    await api.current.database.pool.query(sql.unsafe`UPDATE public.change_requests SET expires_at = now() - interval '1 second' WHERE id = ${due}`);
    const entriesBefore = (await listAuditEntriesInOrder(api.current.database.pool)).length;
    // Another session holds row 1 (a change in progress, or a stalled writer).
    const { default: pg } = await import('pg');
    const holder = new pg.Client({ connectionString: api.current.database.url });
    await holder.connect();
    try {
      await holder.query('BEGIN');
      await holder.query('SELECT 1 FROM public.go_live_state WHERE id = 1 FOR UPDATE');
      const listing = api.current.app.inject({ method: 'GET', url: '/api/governance/change-requests', headers: bearer(READER.token) });
      const answered = await Promise.race([listing.then(() => true), new Promise<false>((resolve) => setTimeout(() => resolve(false), 5_000))]);
      expect(answered, 'the listing waited for the governance lock').toBe(true);
      const listed = await listing;
      expect(listed.statusCode).toBe(200);
      expect(listed.json().items.find((item: { id: string }) => item.id === due)).toMatchObject({ status: 'expired' });
    } finally {
      await holder.query('ROLLBACK');
      await holder.end();
    }
    expect((await listAuditEntriesInOrder(api.current.database.pool)).length).toBe(entriesBefore);
    expect(await api.current.database.pool.oneFirst(sql.unsafe`SELECT status FROM public.change_requests WHERE id = ${due}`)).toBe('pending_approval');
  });

  it('honours an Idempotency-Key on approve, reject and cancel: a repeat answers as the first time, another request with the key is 409', async () => {
    const keyed = (url: string, token: string, key: string, payload: object) =>
      api.current.app.inject({ method: 'POST', url, headers: { ...bearer(token), 'idempotency-key': key }, payload });
    const approved = await requestRelease(ALICE.token, 'approve with a key');
    const first = await keyed(`/api/governance/change-requests/${approved}/approve`, BOB.token, 'approve-key', { reason: 'ok' });
    expect(first.statusCode).toBe(200);
    expect((await settled(first.json().jobId)).state).toBe('completed');
    // Executed since: a new approval would be 409 CHANGE_REQUEST_CLOSED; the repeat of this one is its answer again.
    const repeat = await keyed(`/api/governance/change-requests/${approved}/approve`, BOB.token, 'approve-key', { reason: 'ok' });
    expect(repeat.statusCode, repeat.body).toBe(200);
    expect(repeat.headers['idempotent-replayed']).toBe('true');
    expect(repeat.json()).toMatchObject({ id: approved, status: 'enqueued', jobId: first.json().jobId });
    expectError(await approve(approved, CAROL.token), 409, 'CHANGE_REQUEST_CLOSED');
    expectError(await keyed(`/api/governance/change-requests/${approved}/approve`, BOB.token, 'approve-key', { reason: 'another reason' }), 409, 'IDEMPOTENCY_CONFLICT');

    const engage = await post('/api/governance/kill-switch', ALICE.token, { engaged: true, reason: 'engage again' });
    expect((await settled(engage.json().jobId)).state).toBe('completed');
    for (const [step, token] of [['reject', BOB.token], ['cancel', ALICE.token]] as const) {
      const id = await requestRelease(ALICE.token, `${step} with a key`);
      const once = await keyed(`/api/governance/change-requests/${id}/${step}`, token, `${step}-key`, { reason: 'no' });
      expect(once.statusCode).toBe(200);
      const again = await keyed(`/api/governance/change-requests/${id}/${step}`, token, `${step}-key`, { reason: 'no' });
      expect(again.statusCode, again.body).toBe(200);
      expect(again.headers['idempotent-replayed']).toBe('true');
      expect(again.json()).toEqual(once.json());
      // Without the key the same call is a new attempt on a closed request.
      expectError(await post(`/api/governance/change-requests/${id}/${step}`, token, { reason: 'no' }), 409, 'CHANGE_REQUEST_CLOSED');
      // The key names this request: used for another request, it is refused before anything changes.
      const otherId = await requestRelease(ALICE.token, `${step} another`);
      expectError(await keyed(`/api/governance/change-requests/${otherId}/${step}`, token, `${step}-key`, { reason: 'no' }), 409, 'IDEMPOTENCY_CONFLICT');
      expect((await post(`/api/governance/change-requests/${otherId}/cancel`, ALICE.token, { reason: 'cleanup' })).statusCode).toBe(200);
    }
    const events = (await listAuditEntriesInOrder(api.current.database.pool)).filter((entry) => entry.kind === 'event' && entry.details.change_request === approved);
    expect(events.filter((entry) => entry.action === 'change_request.approved')).toHaveLength(1);
  });

  it('rejects and cancels: only the requester cancels, a closed request cannot be approved', async () => {
    const rejected = await requestRelease(ALICE.token, 'to be rejected');
    const response = await post(`/api/governance/change-requests/${rejected}/reject`, BOB.token, { reason: 'not yet' });
    expect(response.statusCode).toBe(200);
    expect(response.json()).toMatchObject({ status: 'rejected', closed_by: 'bob', close_reason: 'not yet' });
    expectError(await approve(rejected, CAROL.token), 409, 'CHANGE_REQUEST_CLOSED');

    const cancelled = await requestRelease(ALICE.token, 'to be cancelled');
    expectError(await post(`/api/governance/change-requests/${cancelled}/cancel`, BOB.token, { reason: 'not mine' }), 403, 'FORBIDDEN');
    expect((await post(`/api/governance/change-requests/${cancelled}/cancel`, ALICE.token, { reason: 'changed my mind' })).json().status).toBe('cancelled');
    expectError(await approve('00000000-0000-4000-8000-000000000000', BOB.token), 404, 'NOT_FOUND');
    expectError(await approve('not-a-uuid', BOB.token), 400, 'VALIDATION_FAILED');
    expect((await verifyAuditChain(api.current.database.pool, api.current.config.auditKeyring, { mode: 'full' })).problem).toBeNull();
  });

  it('CLI: kill-switch release makes a request; requests lists it; approve by another operator enqueues it; reject', async () => {
    const url = await api.current.app.listen({ host: '127.0.0.1', port: 0 });
    const cli = async (token: string, ...argv: string[]) => {
      const out: string[] = [];
      const err: string[] = [];
      const code = await runValhallaCli(argv, { apiUrl: url, token, version: 'test' }, { out: (text) => out.push(text), err: (text) => err.push(text) });
      return { code, out: out.join('\n'), err: err.join('\n') };
    };
    // The state is engaged (beforeEach), so a release is a real change.
    const asked = await cli(ALICE.token, 'kill-switch', 'release', '--reason', 'via the CLI', '--json');
    expect(asked.code).toBe(0);
    const { changeRequestId } = JSON.parse(asked.out) as { changeRequestId: string };
    const listed = await cli(BOB.token, 'requests', '--status', 'pending_approval');
    expect(listed.out).toContain(changeRequestId);
    expect(listed.out).toMatch(/1\/2/);
    const self = await cli(ALICE.token, 'approve', changeRequestId, '--reason', 'me');
    expect(self.code).toBe(1);
    expect(self.err).toMatch(/SELF_APPROVAL/);
    const approved = await cli(BOB.token, 'approve', changeRequestId, '--reason', 'fine by me');
    expect(approved.code).toBe(0);
    expect(approved.out).toMatch(new RegExp(`change request ${changeRequestId}: enqueued, job change-request-${changeRequestId}`));
    expect((await settled(`change-request-${changeRequestId}`)).state).toBe('completed');

    const again = JSON.parse((await cli(ALICE.token, 'go-live', 'enable', '--reason', 'go', '--json')).out) as { changeRequestId: string };
    const rejected = await cli(CAROL.token, 'reject', again.changeRequestId, '--reason', 'not today');
    expect(rejected.out).toMatch(/: rejected/);
    expect((await cli(ALICE.token, 'approve', again.changeRequestId)).code).toBe(64);
  });

  it('honours an Idempotency-Key: the same request makes one change request, another body is 409', async () => {
    const ask = (reason: string) =>
      api.current.app.inject({ method: 'POST', url: '/api/governance/go-live', headers: { ...bearer(ALICE.token), 'idempotency-key': 'cr-key-1' }, payload: { enabled: true, reason } });
    const first = await ask('enable with a key');
    expect(first.statusCode).toBe(202);
    const id = first.json().changeRequestId as string;
    const again = await ask('enable with a key');
    expect(again.statusCode, again.body).toBe(200);
    expect(again.headers['idempotent-replayed']).toBe('true');
    expect(again.json()).toMatchObject({ id, status: 'pending_approval', requested_by: 'alice', reason: 'enable with a key' });
    expectError(await ask('another body'), 409, 'IDEMPOTENCY_CONFLICT');
    const requested = (await listAuditEntriesInOrder(api.current.database.pool)).filter((entry) => entry.kind === 'event' && entry.details.change_request === id);
    expect(requested.map((entry) => entry.action)).toEqual(['change_request.requested']);
    expect((await post(`/api/governance/change-requests/${id}/cancel`, ALICE.token, { reason: 'was a test' })).statusCode).toBe(200);
  });

  it('never asks approval for an engage or a disable', async () => {
    const response = await post('/api/governance/go-live', ALICE.token, { enabled: false, reason: 'safety first' });
    expect(response.statusCode).toBe(200);
    expect(response.json()).toMatchObject({ status: 'completed', result: { action: 'go_live.disable' } });
  });
});
