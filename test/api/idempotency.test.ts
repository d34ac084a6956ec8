import { describe, expect, it } from 'vitest';
import { sql } from '../../packages/core/src/index.js';
import { keyedJobId } from '../../apps/api/src/idempotency.js';
import { ALICE, BOB, bearer, useApi } from './support.js';

const api = useApi({ poolSize: 10 });

const send = (url: string, payload: unknown, key: string, token: string = ALICE.token) =>
  api.current.app.inject({ method: 'POST', url, payload: payload as object, headers: { ...bearer(token), 'idempotency-key': key } });

const keyRows = async (key: string) =>
  api.current.database.pool.anyFirst(sql.unsafe`SELECT job_id FROM public.idempotency_keys WHERE idempotency_key = ${key}`);

describe('Idempotency-Key', () => {
  it('20 concurrent requests with one key enqueue one job and all answer its id', async () => {
    const before = await api.current.jobCount();
    const responses = await Promise.all(
      Array.from({ length: 20 }, () => send('/api/governance/kill-switch', { engaged: false, reason: 'race' }, 'race-key-1')),
    );
    expect(responses.map((r) => r.statusCode)).toEqual(Array(20).fill(202));
    const ids = new Set(responses.map((r) => r.json().jobId));
    expect(ids.size).toBe(1);
    expect([...ids][0]).toBe(keyedJobId(ALICE.actor, 'race-key-1'));
    expect(await api.current.jobCount()).toBe(before + 1);
    expect(await keyRows('race-key-1')).toHaveLength(1);
    expect(responses.filter((r) => r.headers['idempotent-replayed'] === 'true')).toHaveLength(19);
  });

  it('treats the same body with another key order as the same request', async () => {
    const first = await send('/api/governance/system-metadata', { version: '3', reason: 'r' }, 'order-key');
    const second = await api.current.app.inject({
      method: 'POST',
      url: '/api/governance/system-metadata',
      payload: '{"reason":"r","version":"3"}',
      headers: { ...bearer(), 'content-type': 'application/json', 'idempotency-key': 'order-key' },
    });
    expect(second.statusCode).toBe(202);
    expect(second.json().jobId).toBe(first.json().jobId);
  });

  it('answers 409 IDEMPOTENCY_CONFLICT for the same key with another body or route, enqueuing nothing', async () => {
    const first = await send('/api/governance/go-live', { enabled: true, reason: 'a' }, 'conflict-key');
    expect(first.statusCode).toBe(202);
    const before = await api.current.jobCount();
    const otherBody = await send('/api/governance/go-live', { enabled: true, reason: 'b' }, 'conflict-key');
    expect(otherBody.statusCode).toBe(409);
    expect(otherBody.json().error.code).toBe('IDEMPOTENCY_CONFLICT');
    const otherRoute = await send('/api/governance/verify', {}, 'conflict-key');
    expect(otherRoute.json().error.code).toBe('IDEMPOTENCY_CONFLICT');
    expect(await api.current.jobCount()).toBe(before);
  });

  it('scopes keys per actor', async () => {
    const alice = await send('/api/governance/verify', {}, 'shared-key', ALICE.token);
    const bob = await send('/api/governance/verify', { release: 'other' }, 'shared-key', BOB.token);
    expect(alice.statusCode).toBe(202);
    expect(bob.statusCode).toBe(202);
    expect(alice.json().jobId).not.toBe(bob.json().jobId);
  });

  it('remembers a key in PostgreSQL after its BullMQ job was removed', async () => {
    const first = await send('/api/governance/verify', { release: 'durable' }, 'durable-key');
    const { jobId } = first.json();
    const job = await api.current.queues.findJob(jobId);
    await job?.remove();
    expect(await api.current.queues.findJob(jobId)).toBeUndefined();
    const again = await send('/api/governance/verify', { release: 'durable' }, 'durable-key');
    expect(again.statusCode).toBe(202);
    expect(again.json().jobId).toBe(jobId);
    expect(again.headers['idempotent-replayed']).toBe('true');
    const conflict = await send('/api/governance/verify', { release: 'other' }, 'durable-key');
    expect(conflict.statusCode).toBe(409);
    expect(await keyRows('durable-key')).toEqual([jobId]);
  });
});
