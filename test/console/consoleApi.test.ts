import { Worker } from 'bullmq';
import { describe, expect, it } from 'vitest';
import { applyGovernanceChange } from '../../packages/core/src/index.js';
import { encodeJobFailure, jobFailureOf, type GovernanceAction } from '../../packages/contract/src/index.js';
import { DEV_KEYRING } from '../audit/support.js';
import { createTestRedis } from '../helpers/redis.js';
import { waitFor } from '../helpers/waitFor.js';
import { bearer, quitRedis, useApi } from '../api/support.js';

/** The two reads the console added to the api: audit filters and the queue overview. */
const api = useApi();

const get = (url: string) => api.current.app.inject({ method: 'GET', url, headers: bearer() });
const change = (jobId: string, action: GovernanceAction, actor: string) =>
  applyGovernanceChange(api.current.database.pool, { jobId, payload: { action, actor, reason: `${actor} ${action}` } as never }, { keyring: DEV_KEYRING, migrationHead: 'test' });

describe('GET /api/governance/audit filters', () => {
  it('filters by actor, action and outcome, together and with the cursor', async () => {
    await change('f-1', 'kill_switch.release', 'alice');
    await change('f-2', 'kill_switch.engage', 'bob');
    await change('f-3', 'kill_switch.release', 'bob');
    await change('f-4', 'go_live.enable', 'alice');
    const items = async (query: string) =>
      (await get(`/api/governance/audit?${query}`)).json<{ items: { actor: string; action: string; outcome: string }[] }>().items;

    expect((await items('actor=bob')).map((entry) => entry.action)).toEqual(['kill_switch.release', 'kill_switch.engage']);
    expect((await items('action=kill_switch.release')).map((entry) => entry.actor)).toEqual(['bob', 'alice']);
    expect(await items('outcome=rejected')).toMatchObject([{ actor: 'alice', action: 'go_live.enable', outcome: 'rejected' }]);
    expect(await items('actor=alice&action=kill_switch.release&outcome=applied')).toMatchObject([{ actor: 'alice', action: 'kill_switch.release' }]);
    expect(await items('actor=nobody')).toEqual([]);

    const first = (await get('/api/governance/audit?action=kill_switch.release&limit=1')).json<{ items: { actor: string }[]; next: string | null }>();
    expect(first.items.map((entry) => entry.actor)).toEqual(['bob']);
    expect(first.next).not.toBeNull();
    const second = (await get(`/api/governance/audit?action=kill_switch.release&limit=1&before=${first.next}`)).json<{ items: { actor: string }[]; next: string | null }>();
    expect(second.items.map((entry) => entry.actor)).toEqual(['alice']);
    expect(second.next).toBeNull();
  });

  it('rejects a malformed filter with 400 VALIDATION_FAILED naming the field', async () => {
    for (const [query, field] of [
      ['outcome=maybe', 'outcome'],
      ['action=DROP%20TABLE', 'action'],
      ['actor=', 'actor'],
      [`actor=${'a'.repeat(201)}`, 'actor'],
    ] as const) {
      const response = await get(`/api/governance/audit?${query}`);
      expect(response.statusCode, query).toBe(400);
      const error = response.json<{ error: { code: string; details?: { field: string }[] } }>().error;
      expect(error.code).toBe('VALIDATION_FAILED');
      expect(error.details?.map((detail) => detail.field).join(' ')).toContain(field);
    }
  });
});

describe('GET /api/queues', () => {
  it('answers depth per queue and state and the failed jobs with their error code and finality', async () => {
    const queue = api.current.queues.byName.governance;
    await queue.add('go-live-change', { any: 0 }, { jobId: 'waiting-1', priority: 10, delay: 60_000 });
    const redis = createTestRedis();
    const worker = new Worker(
      'governance',
      async (job) => {
        // The failure records the real worker writes (encodeJobFailure), and a failure without one (a foreign worker).
        if (job.id === 'final-1') throw new Error(encodeJobFailure(jobFailureOf('PRECONDITION_FAILED', 'go-live enable rejected, unmet: backend_complete')));
        if (job.id === 'internal-1') throw new Error(encodeJobFailure(jobFailureOf('INTERNAL_ERROR', 'the worker failed unexpectedly')));
        throw new Error('connect ECONNREFUSED 10.0.0.7:5432');
      },
      { connection: redis, prefix: api.current.prefix },
    );
    try {
      await queue.add('go-live-change', { any: 1 }, { jobId: 'final-1', attempts: 1, priority: 1 });
      await queue.add('go-live-change', { any: 2 }, { jobId: 'internal-1', attempts: 1, priority: 1 });
      await queue.add('go-live-change', { any: 3 }, { jobId: 'foreign-1', attempts: 1, priority: 1 });
      await waitFor(async () => (await queue.getFailedCount()) === 3, { description: 'three failed jobs' });
    } finally {
      await worker.close();
      await quitRedis(redis);
    }
    const response = await get('/api/queues');
    expect(response.statusCode).toBe(200);
    const body = response.json<{ queues: { name: string; delayed: number; failed: number }[]; failed: { id: string; failed_at: string | null; error: { code: string; message: string; final: boolean } }[] }>();
    expect(body.queues.find((entry) => entry.name === 'governance')).toMatchObject({ delayed: 1, failed: 3 });
    expect(body.queues.map((entry) => entry.name)).toContain('verification');
    expect(Object.fromEntries(body.failed.map((job) => [job.id, job.error]))).toMatchObject({
      'final-1': { code: 'PRECONDITION_FAILED', final: true },
      'internal-1': { code: 'INTERNAL_ERROR', final: false },
      'foreign-1': { code: 'JOB_INTERRUPTED', final: false },
    });
    // A failure text that is not a record of ours is never shown (it may name hosts); newest failure first.
    expect(JSON.stringify(body.failed)).not.toContain('10.0.0.7');
    const failedAt = body.failed.map((job) => Date.parse(job.failed_at ?? ''));
    expect(failedAt.every(Number.isFinite)).toBe(true);
    expect([...failedAt].sort((a, b) => b - a)).toEqual(failedAt);
    expect((await api.current.app.inject({ method: 'GET', url: '/api/queues' })).statusCode).toBe(401);
  });
});
