import { describe, expect, it } from 'vitest';
import { ALICE, bearer, useApi } from './support.js';

const api = useApi({ env: { ADMIN_ACTORS: ALICE.actor, NOTIFICATION_ALLOWED_HOSTS: '127.0.0.1' }, perTest: true });

const send = (method: 'POST' | 'PATCH' | 'DELETE', url: string, payload: object | undefined, key: string) =>
  api.current.app.inject({ method, url, ...(payload === undefined ? {} : { payload }), headers: { ...bearer(), 'idempotency-key': key } });

describe('Idempotency-Key on every write: honoured, or a documented 400', () => {
  it.each([
    ['POST', '/api/jobs/some-job/retry', { reason: 'again' }],
    ['POST', '/api/queues/governance/pause', { reason: 'maintenance' }],
    ['POST', '/api/queues/governance/resume', { reason: 'maintenance over' }],
    ['POST', '/api/notifications/subscriptions', { kind: 'webhook', url: 'http://127.0.0.1:9/hook', filter: { preset: 'safety' } }],
    ['DELETE', '/api/notifications/subscriptions/00000000-0000-4000-8000-000000000000', undefined],
  ] as const)('%s %s with a key answers 400 VALIDATION_FAILED naming the header, and does nothing', async (method, url, payload) => {
    const before = await api.current.stateFingerprint();
    const response = await send(method, url, payload, 'a-key');
    expect(response.statusCode).toBe(400);
    const { error } = response.json<{ error: { code: string; message: string; details: { field: string; message: string }[] } }>();
    expect(error.code).toBe('VALIDATION_FAILED');
    expect(error.message).toMatch(/does not take an Idempotency-Key/);
    expect(error.details).toEqual([{ field: 'Idempotency-Key', message: expect.stringMatching(/without the header/) }]);
    expect(await api.current.stateFingerprint()).toBe(before);
  });

  it('the change routes honour it: the repeat answers the first outcome', async () => {
    const first = await send('POST', '/api/governance/system-metadata', { notes: 'n', reason: 'keyed' }, 'metadata-key');
    const again = await send('POST', '/api/governance/system-metadata', { notes: 'n', reason: 'keyed' }, 'metadata-key');
    expect(first.statusCode).toBe(202);
    expect(again.json()).toEqual(first.json());
    expect(again.headers['idempotent-replayed']).toBe('true');
  });

  it('routes whose repeat is harmless accept it and change nothing: sign-in and the OFREP evaluations', async () => {
    const signIn = await api.current.app.inject({ method: 'POST', url: '/api/session', payload: { token: ALICE.token }, headers: { 'idempotency-key': 'k' } });
    expect(signIn.statusCode).toBe(200);
    const evaluation = await api.current.app.inject({ method: 'POST', url: '/ofrep/v1/evaluate/flags/valhalla-live', payload: {}, headers: { ...bearer(), 'idempotency-key': 'k' } });
    expect(evaluation.statusCode).toBe(200);
  });

  it('a malformed key on an honouring route is 400 too', async () => {
    const response = await send('POST', '/api/governance/verify', {}, ' padded ');
    expect(response.statusCode).toBe(400);
    expect(response.json().error.details).toEqual([expect.objectContaining({ field: 'Idempotency-Key' })]);
  });
});
