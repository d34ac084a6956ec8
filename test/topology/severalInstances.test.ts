import pg from 'pg';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { sql } from '../../packages/core/src/index.js';
import { QUEUES } from '../../packages/contract/src/index.js';
import { WATCHDOG_ACTOR, WATCHDOG_SCHEDULER_ID } from '../../apps/worker/src/index.js';
import { startApiProcess } from '../api/processes.js';
import { ALICE, BOB, TOKENS_ENV, bearer } from '../api/support.js';
import { useTestDatabase } from '../helpers/database.js';
import type { ManagedProcess } from '../helpers/processes.js';
import { testRedisUrl, uniqueQueuePrefix } from '../helpers/redis.js';
import { waitFor } from '../helpers/waitFor.js';
import { openSse, type SseConnection } from '../live/sseClient.js';
import { createProducer, startWorkerProcess, workerEnv, type Producer } from '../worker/support/workerHarness.js';
import { expectEachExecutedOnce, getJson, openAcceptances, postJson, type Answer } from './support.js';

const database = useTestDatabase({ poolSize: 2 });
/** Operators beyond alice and bob, so that many keyed writes stay within the per-token rate limit. */
const OPERATORS = Array.from({ length: 12 }, (_, i) => ({ actor: `op${i}`, token: `op${i}-token-0123456789abcdefghij` }));
/** Writes per token per route per minute, on each api instance (the limit is counted in each instance's memory). */
const RATE_LIMIT = 3;
const shared = {
  GOVERNANCE_TOKENS: [TOKENS_ENV, ...OPERATORS.map(({ actor, token }) => `${actor}:${token}`)].join(','),
  APPROVALS_REQUIRED: '2',
  RATE_LIMIT_PER_MINUTE: String(RATE_LIMIT),
  // The machine's PostgreSQL is shared by every test run: each process keeps a few connections.
  DATABASE_POOL_SIZE: '3',
};

let prefix: string;
let apis: { process: ManagedProcess; url: string }[] = [];
let workers: ManagedProcess[] = [];
let producer: Producer;
/** Every job id a test made (through the api or the producer), to check each was executed exactly once. */
const jobIds: string[] = [];

const startWorker = (n: number) =>
  startWorkerProcess(workerEnv(database.current, prefix, { ...shared, VERIFY_INTERVAL_SECONDS: '1', RECONCILE_INTERVAL_MS: '300', RECONCILE_GRACE_MS: '1000' }), `worker ${n}`);

beforeAll(async () => {
  prefix = uniqueQueuePrefix('instances');
  const env = { databaseUrl: database.current.url, redisUrl: testRedisUrl(), prefix, extra: shared };
  apis = await Promise.all([0, 1, 2].map(() => startApiProcess(env)));
  workers = await Promise.all([0, 1, 2].map(startWorker));
  producer = createProducer(prefix);
}, 120_000);

afterAll(async () => {
  await Promise.all([...workers.map((worker) => worker.stop('SIGTERM', 20_000)), ...apis.map((api) => api.process.stop('SIGTERM', 20_000))]);
  await producer.close();
});

const api = (n: number) => apis[n % apis.length]!.url;
const jobIdOf = (answer: Answer) => String(answer.body.jobId);

describe('three apis and three workers (real processes) on one database and one Redis', () => {
  it('schedules the watchdog once: one scheduler, one run per slot', async () => {
    expect((await producer.queues.byName[QUEUES.verification].getJobSchedulers()).map((s) => s.key)).toEqual([WATCHDOG_SCHEDULER_ID]);
    const slots = async () =>
      (await database.current.pool.anyFirst(sql.unsafe`SELECT job_id FROM public.verification_runs WHERE actor = ${WATCHDOG_ACTOR}`))
        .map((id) => Number(/:(\d+)$/.exec(String(id))?.[1]))
        .sort((a, b) => a - b);
    const seen = await waitFor(async () => ((await slots()).length >= 3 ? slots() : false), { timeoutMs: 30_000, description: '3 watchdog runs' });
    for (let i = 1; i < seen.length; i += 1) expect((seen[i] as number) - (seen[i - 1] as number)).toBeGreaterThanOrEqual(1000);
  });

  it('every stream client on every api sees every change once, in order', async () => {
    // The reference: every commit's notification, straight from PostgreSQL.
    const reference = new pg.Client({ connectionString: database.current.url });
    await reference.connect();
    const committed: string[] = [];
    reference.on('notification', (message) => committed.push(String((JSON.parse(message.payload ?? '{}') as { etag?: string }).etag)));
    await reference.query('LISTEN valhalla_live_state');
    const clients: SseConnection[] = [];
    try {
      for (let n = 0; n < 9; n += 1) clients.push(await openSse(`${api(n)}/api/governance/stream`, { token: ALICE.token }));
      const initial = (await Promise.all(clients.map(async (client) => (await client.waitForEvents(1))[0]!.id)));
      expect(new Set(initial).size).toBe(1);
      // Metadata changes (each one applied), three at a time on three apis, from several operators (the per-token
      // rate limit): the workers group some into one commit, which is one event.
      for (let round = 0; round < 10; round += 1) {
        const answers = await Promise.all(
          [0, 1, 2].map((n) => {
            // Each operator on each api at most once: the later tests' writes stay within the limit too.
            const i = round * 3 + n;
            const operator = OPERATORS[i % OPERATORS.length]!;
            return postJson(api(i + Math.floor(i / OPERATORS.length)), '/api/governance/system-metadata', { notes: `stream ${round}.${n}`, reason: 'stream' }, bearer(operator.token));
          }),
        );
        for (const answer of answers) {
          expect(answer.status, JSON.stringify(answer.body)).toBe(202);
          jobIds.push(jobIdOf(answer));
        }
      }
      await expectEachExecutedOnce(database.current.pool, jobIds);
      const last = await waitFor(async () => {
        const version = String(await database.current.pool.oneFirst(sql.unsafe`SELECT public.governance_live_state()->>'etag'`));
        return committed.at(-1) === version && version;
      }, { description: 'the reference listener to see the last commit' });
      await waitFor(() => clients.every((client) => client.events.at(-1)?.id === last), { timeoutMs: 15_000, description: 'every client to reach the last version' });
      const expected = [initial[0], ...committed];
      for (const client of clients) expect(client.events.map((event) => event.id)).toEqual(expected);
      expect(committed.length).toBeGreaterThan(1);
      for (let i = 1; i < committed.length; i += 1) expect(Number(committed[i])).toBeGreaterThan(Number(committed[i - 1]));
    } finally {
      await Promise.all(clients.map((client) => client.close()));
      await reference.end();
    }
  });

  it('a session made on one api works on another, and its revocation on a third is seen by all', async () => {
    const signIn = await fetch(`${api(0)}/api/session`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ token: BOB.token }) });
    expect(signIn.status).toBe(200);
    const { csrfToken } = (await signIn.json()) as { csrfToken: string };
    const cookie = /^(valhalla_session=[^;]+)/.exec(signIn.headers.get('set-cookie') ?? '')?.[1] ?? '';
    expect(cookie).not.toBe('');
    expect((await getJson(api(1), '/api/session', { cookie })).body).toMatchObject({ actor: BOB.actor });
    const engaged = await postJson(api(2), '/api/governance/kill-switch', { engaged: true, reason: 'with a session from another api' }, { cookie, 'x-csrf-token': csrfToken });
    expect(engaged.status).toBe(200);
    jobIds.push(jobIdOf(engaged));
    const revoked = await fetch(`${api(1)}/api/session`, { method: 'DELETE', headers: { cookie, 'x-csrf-token': csrfToken } });
    expect(revoked.status).toBeLessThan(300);
    for (const n of [0, 1, 2]) expect((await getJson(api(n), '/api/session', { cookie })).status).toBe(401);
  });

  it('four eyes across instances: a release asked on one api and approved on another is applied once; self-approval is refused everywhere', async () => {
    const asked = await postJson(api(0), '/api/governance/kill-switch', { engaged: false, reason: 'release, asked on api 0' }, bearer(ALICE.token));
    expect(asked.status).toBe(202);
    expect(asked.body).toMatchObject({ status: 'pending_approval' });
    const id = String(asked.body.changeRequestId);
    for (const n of [1, 2]) {
      const self = await postJson(api(n), `/api/governance/change-requests/${id}/approve`, { reason: 'my own' }, bearer(ALICE.token));
      expect(self.status).toBe(403);
      expect(self.body).toMatchObject({ error: { code: 'SELF_APPROVAL' } });
    }
    const approved = await postJson(api(1), `/api/governance/change-requests/${id}/approve`, { reason: 'second pair of eyes, on api 1' }, bearer(BOB.token));
    expect(approved.status).toBe(200);
    expect(approved.body).toMatchObject({ status: 'enqueued' });
    jobIds.push(jobIdOf(approved));
    await expectEachExecutedOnce(database.current.pool, jobIds);
    expect(await database.current.pool.oneFirst(sql.unsafe`SELECT kill_switch_engaged FROM public.go_live_state WHERE id = 1`)).toBe(false);
  });

  it('an Idempotency-Key gives one job whichever apis the repeats reach; another body is a conflict on every api', async () => {
    const key = 'instances-key-1';
    const body = { notes: 'keyed across apis', reason: 'idempotent across instances' };
    const answers = await Promise.all([0, 1, 2].map((n) => postJson(api(n), '/api/governance/system-metadata', body, { ...bearer(ALICE.token), 'idempotency-key': key })));
    expect(answers.map((answer) => answer.status).every((status) => status === 200 || status === 202)).toBe(true);
    expect(new Set(answers.map(jobIdOf)).size).toBe(1);
    jobIds.push(jobIdOf(answers[0]!));
    for (const n of [0, 1]) {
      const conflict = await postJson(api(n), '/api/governance/system-metadata', { ...body, notes: 'another body' }, { ...bearer(ALICE.token), 'idempotency-key': key });
      expect(conflict.status).toBe(409);
    }
    await expectEachExecutedOnce(database.current.pool, jobIds);
  });

  it('rate limits are per api instance: a token that used up its limit on one api still has it on another', async () => {
    const verify = (n: number) => postJson(api(n), '/api/governance/verify', {}, bearer(BOB.token));
    for (let i = 0; i < RATE_LIMIT; i += 1) expect((await verify(0)).status).toBe(202);
    const limited = await verify(0);
    expect(limited.status).toBe(429);
    expect(limited.body).toMatchObject({ error: { code: 'RATE_LIMITED' } });
    expect((await verify(1)).status).toBe(202);
  });

  it('a worker killed mid-flight loses nothing: every change is executed once by the others', async () => {
    const changes = Array.from({ length: 300 }, (_, i) => ({ action: 'metadata.update' as const, actor: 'ops:producer', reason: `burst ${i}`, metadata: { notes: `burst ${i}` } }));
    const added = await Promise.all(changes.map((change) => producer.change(change)));
    jobIds.push(...added);
    const executedSoFar = async () => Number(await database.current.pool.oneFirst(sql.unsafe`SELECT count(*) FROM public.governance_audit_log WHERE actor = 'ops:producer'`));
    await waitFor(async () => (await executedSoFar()) >= 30, { timeoutMs: 30_000, description: 'the burst under way' });
    const [victim] = workers.splice(0, 1);
    expect((await victim!.stop('SIGKILL')).signal).toBe('SIGKILL');
    expect(await executedSoFar()).toBeLessThan(300);
    await expectEachExecutedOnce(database.current.pool, jobIds, 90_000);
  });

  it('an api killed mid-flight loses nothing: every request it answered 2xx is executed once, and the others, repeated with their key on another api, too', async () => {
    const victim = apis[2]!;
    // Queued changes (one per operator: the rate limit) and engages (never limited), each with its key.
    const requests = OPERATORS.flatMap(({ actor, token }) => [
      { actor, token, path: '/api/governance/system-metadata', body: { notes: `from ${actor}`, reason: 'api killed mid-flight' }, key: `${actor}-metadata` },
      ...[1, 2, 3, 4].map((k) => ({ actor, token, path: '/api/governance/kill-switch', body: { engaged: true, reason: `api killed mid-flight ${k}` }, key: `${actor}-engage-${k}` })),
    ]);
    const send = (url: string, request: (typeof requests)[number]) =>
      postJson(url, request.path, request.body, { ...bearer(request.token), 'idempotency-key': request.key }).catch((): Answer => ({ status: 0, body: {} }));
    const inFlight = requests.map((request) => send(victim.url, request));
    // Killed as soon as the first answers come back: the rest are in flight, some in their transaction.
    await Promise.race(inFlight);
    expect((await victim.process.stop('SIGKILL')).signal).toBe('SIGKILL');
    const first = await Promise.all(inFlight);
    expect(first.some((answer) => answer.status === 0 || answer.status >= 500)).toBe(true);
    const settled = await Promise.all(
      requests.map(async (request, i) => {
        const answer = first[i]!;
        if (answer.status === 200 || answer.status === 202) return answer;
        // No answer (or a 503 that says to repeat): the same request with the same key, on another api.
        return send(api(i % 2), request);
      }),
    );
    for (const [i, answer] of settled.entries()) {
      expect(answer.status, JSON.stringify(answer.body)).toBeLessThan(300);
      if (first[i]!.status === 200 || first[i]!.status === 202) expect(jobIdOf(answer)).toBe(jobIdOf(first[i]!));
      jobIds.push(jobIdOf(answer));
    }
    apis.splice(2, 1);
    await expectEachExecutedOnce(database.current.pool, jobIds, 90_000);
    await waitFor(async () => (await openAcceptances(database.current.pool)) === 0, { timeoutMs: 30_000, description: 'every acceptance settled' });
  });
});
