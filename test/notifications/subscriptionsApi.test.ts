import { describe, expect, it } from 'vitest';
import { sql } from '../../packages/core/src/index.js';
import { systemResolver, type HostResolver } from '../../packages/core/src/notifications/index.js';
import { ALICE, BOB, bearer, startApi, useApi } from '../api/support.js';
import { useTestDatabase } from '../helpers/database.js';

const READER = { actor: 'rita', token: 'rita-reader-token-0123456789' } as const;
const PATH_SECRET = 'T0001/B0002/pathsecretXYZ';

/**
 * Names the tests point at chosen addresses (a real resolver cannot be told to lie; these names do not exist); every
 * other name (localhost) goes to the system resolver.
 */
const NAMES: Record<string, string[]> = {
  'hooks.example.test': ['93.184.216.34'],
  'metadata.attacker.test': ['169.254.169.254'],
  'ten.attacker.test': ['10.0.0.7'],
  'loop.attacker.test': ['127.0.0.1'],
  'v6loop.attacker.test': ['::1'],
  'mapped.attacker.test': ['::ffff:127.0.0.1'],
  'mixed.attacker.test': ['93.184.216.34', '192.168.1.10'],
};
const resolveHost: HostResolver = async (hostname) => {
  const addresses = NAMES[hostname];
  if (addresses === undefined) return systemResolver(hostname);
  return addresses.map((address) => ({ address, family: address.includes(':') ? 6 : 4 }));
};

const api = useApi({ env: { ADMIN_ACTORS: ALICE.actor, READER_TOKENS: `${READER.actor}:${READER.token}` }, resolveHost });

const PREFIX = '/api/notifications/subscriptions';
type Json = Record<string, any>;
const call = async (method: 'GET' | 'POST' | 'PATCH' | 'DELETE', url: string, body?: object, token: string = ALICE.token) => {
  const response = await api.current.app.inject({ method, url, headers: bearer(token), ...(body === undefined ? {} : { payload: body }) });
  return { status: response.statusCode, body: response.json<Json>() };
};
const create = (body: object, token?: string) => call('POST', PREFIX, body, token);
const webhook = (url = 'https://hooks.example.test/valhalla?token=querysecret', extra: object = {}) => ({
  kind: 'webhook',
  url,
  filter: { actions: ['kill_switch.engage', 'kill_switch.release'] },
  reason: 'page the on-call',
  ...extra,
});
const auditEvents = async (action: string) =>
  (await api.current.database.pool.any(sql.unsafe`SELECT * FROM public.governance_audit_log WHERE action = ${action} ORDER BY id`)) as Json[];

describe('notification subscriptions over the api', () => {
  it('an admin creates a webhook: 201 with the whsec_ secret shown once, the target redacted, audited without secrets', async () => {
    const created = await create(webhook(undefined, { description: 'on-call bridge' }));
    expect(created.status).toBe(201);
    const sub = created.body;
    expect(sub.secret).toMatch(/^whsec_[A-Za-z0-9+/]{43}=$/);
    expect(Buffer.from((sub.secret as string).slice(6), 'base64')).toHaveLength(32);
    expect(sub).toMatchObject({
      kind: 'webhook',
      target: 'https://hooks.example.test/valhalla?…',
      description: 'on-call bridge',
      enabled: true,
      filter: { actions: ['kill_switch.engage', 'kill_switch.release'] },
      created_by: 'alice',
      secret_key_id: 'dev',
      status: { state: 'active', circuit: 'closed', backlog: 0, last_error: null, dead_lettered_at: null },
    });

    const listed = await call('GET', PREFIX);
    expect(listed.status).toBe(200);
    expect(listed.body.can_manage).toBe(true);
    const item = (listed.body.items as Json[]).find((one) => one.id === sub.id);
    expect(item).toBeDefined();
    expect(item).not.toHaveProperty('secret');
    expect(JSON.stringify(listed.body)).not.toContain('querysecret');
    const one = await call('GET', `${PREFIX}/${sub.id as string}`);
    expect(one.body).toEqual(item);

    // Stored sealed: neither the secret nor the URL's query appears anywhere in the row or the audit log.
    const row = (await api.current.database.pool.one(sql.unsafe`SELECT row_to_json(s)::text AS text FROM public.notification_subscriptions s WHERE id = ${sub.id}::uuid`)) as { text: string };
    expect(row.text).not.toContain((sub.secret as string).slice(6, 30));
    expect(row.text).not.toContain('querysecret');
    const [event] = await auditEvents('notification.subscription_created');
    expect(event).toMatchObject({ kind: 'event', actor: 'alice', reason: 'page the on-call', key_id: 'dev', details: { subscription: sub.id, kind: 'webhook', target: 'https://hooks.example.test/valhalla?…' } });
    expect(JSON.stringify(event)).not.toContain('querysecret');
    expect(JSON.stringify(event)).not.toContain((sub.secret as string).slice(6, 30));
  });

  it('a Slack subscription: no signing secret, its URL path (the Slack secret) never shown', async () => {
    const created = await create({ kind: 'slack', url: `https://hooks.example.test/services/${PATH_SECRET}`, filter: { kinds: ['change'], outcomes: ['applied'] }, reason: 'tell #ops' });
    expect(created.status).toBe(201);
    expect(created.body).toMatchObject({ kind: 'slack', secret: null, target: 'https://hooks.example.test/services/…', filter: { kinds: ['change'], outcomes: ['applied'] } });
    const rotated = await call('POST', `${PREFIX}/${created.body.id as string}/rotate-secret`, { reason: 'rotate' });
    expect(rotated.status).toBe(409);
    expect(rotated.body.error.code).toBe('NOT_A_WEBHOOK');
    const listed = await call('GET', PREFIX);
    expect(JSON.stringify(listed.body)).not.toContain('pathsecret');
    expect(JSON.stringify(await auditEvents('notification.subscription_created'))).not.toContain('pathsecret');
  });

  it('readers see subscriptions but cannot manage them; an operator outside ADMIN_ACTORS cannot either', async () => {
    const created = await create(webhook());
    const id = created.body.id as string;
    const asReader = await call('GET', PREFIX, undefined, READER.token);
    expect(asReader.status).toBe(200);
    expect(asReader.body.can_manage).toBe(false);
    expect((await call('POST', PREFIX, webhook(), READER.token)).status).toBe(403);
    const writes: [string, string, object][] = [
      ['POST', PREFIX, webhook()],
      ['PATCH', `${PREFIX}/${id}`, { enabled: false, reason: 'r' }],
      ['DELETE', `${PREFIX}/${id}`, { reason: 'r' }],
      ['POST', `${PREFIX}/${id}/resume`, { reason: 'r' }],
      ['POST', `${PREFIX}/${id}/rotate-secret`, { reason: 'r' }],
    ];
    for (const [method, url, body] of writes) {
      const answer = await call(method as 'POST', url, body, BOB.token);
      expect(answer.status, `${method} ${url}`).toBe(403);
      expect(answer.body.error).toMatchObject({ code: 'FORBIDDEN', message: expect.stringContaining('ADMIN_ACTORS') });
    }
    expect((await call('GET', `${PREFIX}/${id}`, undefined, BOB.token)).body.enabled).toBe(true);
  });

  it.each([
    ['no kind', { url: 'https://hooks.example.test/', filter: {}, reason: 'r' }, 'kind'],
    ['an unknown kind', { kind: 'email', url: 'https://hooks.example.test/', filter: {}, reason: 'r' }, 'kind'],
    ['no url', { kind: 'webhook', filter: {}, reason: 'r' }, 'url'],
    ['a relative url', { kind: 'webhook', url: '/hooks', filter: {}, reason: 'r' }, 'url'],
    ['an ftp url', { kind: 'webhook', url: 'ftp://hooks.example.test/x', filter: {}, reason: 'r' }, 'url'],
    ['a file url', { kind: 'webhook', url: 'file:///etc/passwd', filter: {}, reason: 'r' }, 'url'],
    ['credentials in the url', { kind: 'webhook', url: 'https://user:pass@hooks.example.test/', filter: {}, reason: 'r' }, 'url'],
    ['a url too long', { kind: 'webhook', url: `https://hooks.example.test/${'a'.repeat(2100)}`, filter: {}, reason: 'r' }, 'url'],
    ['no filter', { kind: 'webhook', url: 'https://hooks.example.test/', reason: 'r' }, 'filter'],
    ['a misspelt action', { kind: 'webhook', url: 'https://hooks.example.test/', filter: { actions: ['kill_switch.engaeg'] }, reason: 'r' }, 'filter.actions.0'],
    ['an empty action list', { kind: 'webhook', url: 'https://hooks.example.test/', filter: { actions: [] }, reason: 'r' }, 'filter.actions'],
    ['an unknown outcome', { kind: 'webhook', url: 'https://hooks.example.test/', filter: { outcomes: ['done'] }, reason: 'r' }, 'filter.outcomes.0'],
    ['an unknown filter field', { kind: 'webhook', url: 'https://hooks.example.test/', filter: { actors: ['alice'] }, reason: 'r' }, 'filter.actors'],
    ['outcomes for events only', { kind: 'webhook', url: 'https://hooks.example.test/', filter: { kinds: ['event'], outcomes: ['applied'] }, reason: 'r' }, 'filter.outcomes'],
    ['actions none of the kinds has', { kind: 'webhook', url: 'https://hooks.example.test/', filter: { kinds: ['event'], actions: ['kill_switch.engage'] }, reason: 'r' }, 'filter.actions'],
    ['no reason', { kind: 'webhook', url: 'https://hooks.example.test/', filter: {} }, 'reason'],
    ['a blank reason', { kind: 'webhook', url: 'https://hooks.example.test/', filter: {}, reason: '   ' }, 'reason'],
    ['a control character in the description', { kind: 'webhook', url: 'https://hooks.example.test/', filter: {}, reason: 'r', description: 'a\u0007b' }, 'description'],
    ['an unknown field', { kind: 'webhook', url: 'https://hooks.example.test/', filter: {}, reason: 'r', secret: 'whsec_mine' }, 'secret'],
    ['enabled not a boolean', { kind: 'webhook', url: 'https://hooks.example.test/', filter: {}, reason: 'r', enabled: 'yes' }, 'enabled'],
  ])('refuses %s: 400 VALIDATION_FAILED naming the field, nothing written', async (_name, body, field) => {
    const before = await api.current.database.pool.oneFirst(sql.unsafe`SELECT count(*)::int FROM public.notification_subscriptions`);
    const answer = await create(body);
    expect(answer.status).toBe(400);
    expect(answer.body.error.code).toBe('VALIDATION_FAILED');
    expect((answer.body.error.details as { field: string }[]).map((detail) => detail.field)).toContain(field);
    expect(await api.current.database.pool.oneFirst(sql.unsafe`SELECT count(*)::int FROM public.notification_subscriptions`)).toBe(before);
  });

  it.each([
    ['localhost', 'http://localhost:8080/hook'],
    ['127.0.0.1', 'http://127.0.0.1:8080/hook'],
    ['a decimal spelling of 127.0.0.1', 'http://2130706433:8080/hook'],
    ['a hex spelling of 127.0.0.1', 'http://0x7f.0.0.1:8080/hook'],
    ['an octal spelling of 127.0.0.1', 'http://017700000001:8080/hook'],
    ['a short spelling of 127.0.0.1', 'http://127.1:8080/hook'],
    ['IPv6 loopback', 'http://[::1]:8080/hook'],
    ['IPv4-mapped loopback', 'http://[::ffff:127.0.0.1]:8080/hook'],
    ['IPv4-mapped loopback in hex', 'http://[::ffff:7f00:1]:8080/hook'],
    ['IPv4-compatible loopback', 'http://[::127.0.0.1]:8080/hook'],
    ['the unspecified address', 'http://0.0.0.0:8080/hook'],
    ['cloud metadata', 'http://169.254.169.254/latest/meta-data/'],
    ['a 10.x address', 'https://10.1.2.3/hook'],
    ['a 172.16.x address', 'https://172.16.5.4/hook'],
    ['a 192.168.x address', 'https://192.168.0.10/hook'],
    ['a carrier-grade NAT address', 'https://100.64.0.1/hook'],
    ['IPv6 link-local', 'http://[fe80::1]/hook'],
    ['IPv6 unique local', 'http://[fd00::1]/hook'],
    ['a name resolving to 127.0.0.1', 'https://loop.attacker.test/hook'],
    ['a name resolving to ::1', 'https://v6loop.attacker.test/hook'],
    ['a name resolving to ::ffff:127.0.0.1', 'https://mapped.attacker.test/hook'],
    ['a name resolving to 169.254.169.254', 'https://metadata.attacker.test/latest'],
    ['a name resolving to 10.x', 'https://ten.attacker.test/hook'],
    ['a name with one private address among public ones', 'https://mixed.attacker.test/hook'],
    ['a name that does not resolve', 'https://nowhere.attacker.test/hook'],
  ])('refuses a target at %s without the allow-list: 400 TARGET_NOT_ALLOWED naming the host, never the path', async (_name, url) => {
    for (const kind of ['webhook', 'slack']) {
      const answer = await create({ kind, url: `${url}/${PATH_SECRET}`, filter: {}, reason: 'ssrf' });
      expect(answer.status, `${kind} ${url}`).toBe(400);
      expect(answer.body.error.code).toBe('TARGET_NOT_ALLOWED');
      expect(answer.body.error.details).toEqual([{ field: 'url', message: expect.any(String) }]);
      expect(JSON.stringify(answer.body)).not.toContain('pathsecret');
    }
  });

  it('a changed url is vetted again; a change is audited with what changed; pause, delete; unknown ids are 404', async () => {
    const id = (await create(webhook())).body.id as string;
    const toPrivate = await call('PATCH', `${PREFIX}/${id}`, { url: 'http://10.9.9.9/hook', reason: 'move' });
    expect(toPrivate.status).toBe(400);
    expect(toPrivate.body.error.code).toBe('TARGET_NOT_ALLOWED');
    const onlyReason = await call('PATCH', `${PREFIX}/${id}`, { reason: 'nothing' });
    expect(onlyReason.status).toBe(400);
    expect(onlyReason.body.error.code).toBe('VALIDATION_FAILED');

    const paused = await call('PATCH', `${PREFIX}/${id}`, { enabled: false, filter: { kinds: ['event'] }, reason: 'receiver maintenance' });
    expect(paused.status).toBe(200);
    expect(paused.body).toMatchObject({ enabled: false, filter: { kinds: ['event'] }, updated_by: 'alice', status: { state: 'paused' } });
    const updates = (await auditEvents('notification.subscription_updated')).filter((entry) => entry.details.subscription === id);
    expect(updates).toHaveLength(1);
    expect(updates[0]?.details.changes).toEqual({
      enabled: { from: true, to: false },
      filter: { from: { actions: ['kill_switch.engage', 'kill_switch.release'] }, to: { kinds: ['event'] } },
    });
    expect(updates[0]).toMatchObject({ actor: 'alice', reason: 'receiver maintenance' });

    const deleted = await call('DELETE', `${PREFIX}/${id}`, { reason: 'receiver retired' });
    expect(deleted).toEqual({ status: 200, body: { id, deleted: true, dropped_pending: 0 } });
    expect((await auditEvents('notification.subscription_deleted')).filter((entry) => entry.details.subscription === id)).toHaveLength(1);
    for (const [method, url, body] of [
      ['GET', `${PREFIX}/${id}`, undefined],
      ['GET', `${PREFIX}/${id}/deliveries`, undefined],
      ['PATCH', `${PREFIX}/${id}`, { enabled: true, reason: 'r' }],
      ['DELETE', `${PREFIX}/${id}`, { reason: 'r' }],
      ['POST', `${PREFIX}/${id}/resume`, { reason: 'r' }],
      ['POST', `${PREFIX}/${id}/rotate-secret`, { reason: 'r' }],
    ] as const) {
      const answer = await call(method, url, body);
      expect(answer.status, `${method} ${url}`).toBe(404);
      expect(answer.body.error.code).toBe('NOT_FOUND');
    }
    const badId = await call('GET', `${PREFIX}/not-a-uuid`);
    expect(badId.status).toBe(400);
    expect(badId.body.error.details[0].field).toBe('id');
    const badLimit = await call('GET', `${PREFIX}/${id}/deliveries?limit=0`);
    expect(badLimit.status).toBe(400);
  });

  it('rotating a webhook secret answers a new one once; the old one is gone from the row', async () => {
    const created = await create(webhook());
    const rotated = await call('POST', `${PREFIX}/${created.body.id as string}/rotate-secret`, { reason: 'leaked in a ticket' });
    expect(rotated.status).toBe(200);
    expect(rotated.body.secret).toMatch(/^whsec_/);
    expect(rotated.body.secret).not.toBe(created.body.secret);
    expect((await auditEvents('notification.secret_rotated')).at(-1)).toMatchObject({ actor: 'alice', reason: 'leaked in a ticket' });
  });

  it('a filter matching every entry makes the subscription its own first delivery, written in the creating transaction', async () => {
    const created = await create(webhook('https://hooks.example.test/all', { filter: {} }));
    const status = (await call('GET', `${PREFIX}/${created.body.id as string}`)).body.status;
    expect(status).toMatchObject({ backlog: 1, oldest_pending_at: expect.any(String), next_attempt_at: expect.any(String) });
    const deliveries = await call('GET', `${PREFIX}/${created.body.id as string}/deliveries`);
    expect(deliveries.body.items).toEqual([expect.objectContaining({ action: 'notification.subscription_created', status: 'pending', attempts: 0 })]);
  });

  it('is in the OpenAPI document', async () => {
    const document = (await api.current.app.inject({ method: 'GET', url: '/openapi.json' })).json<Json>();
    expect(Object.keys(document.paths)).toEqual(
      expect.arrayContaining([PREFIX, `${PREFIX}/{id}`, `${PREFIX}/{id}/deliveries`, `${PREFIX}/{id}/resume`, `${PREFIX}/{id}/rotate-secret`]),
    );
    expect(Object.keys(document.paths[PREFIX])).toEqual(expect.arrayContaining(['get', 'post']));
    expect(Object.keys(document.paths[`${PREFIX}/{id}`])).toEqual(expect.arrayContaining(['get', 'patch', 'delete']));
    expect(document.paths[PREFIX].post.responses).toHaveProperty('201');
  });
});

const allowListDatabase = useTestDatabase();

describe('NOTIFICATION_ALLOWED_HOSTS', () => {
  it('lets named hosts (and host:port) be private or loopback; another port or host is still refused', async () => {
    const harness = await startApi(allowListDatabase.current, {
      env: { ADMIN_ACTORS: ALICE.actor, NOTIFICATION_ALLOWED_HOSTS: '127.0.0.1:8999, localhost, [::1]:8080, 10.0.0.7' },
      resolveHost,
    });
    try {
      const post = async (url: string) =>
        (await harness.app.inject({ method: 'POST', url: PREFIX, headers: bearer(), payload: { kind: 'webhook', url, filter: {}, reason: 'allow-list' } })).statusCode;
      expect(await post('http://127.0.0.1:8999/hook')).toBe(201);
      expect(await post('http://2130706433:8999/hook')).toBe(201);
      expect(await post('http://localhost:1234/hook')).toBe(201);
      expect(await post('http://[::1]:8080/hook')).toBe(201);
      expect(await post('https://ten.attacker.test/hook')).toBe(201);
      expect(await post('http://127.0.0.1:9000/hook')).toBe(400);
      expect(await post('http://[::1]:8081/hook')).toBe(400);
      expect(await post('http://169.254.169.254/')).toBe(400);
    } finally {
      await harness.close();
    }
  });

  it('production without NOTIFICATION_SECRET_KEYS: creating answers 409 NOTIFICATIONS_NOT_CONFIGURED, listing works', async () => {
    const harness = await startApi(allowListDatabase.current, {
      env: { NODE_ENV: 'production', AUDIT_HMAC_KEYS: 'prod:a-production-audit-key-0123456789abcdef', ADMIN_ACTORS: ALICE.actor },
      resolveHost,
    });
    try {
      const answer = await harness.app.inject({ method: 'POST', url: PREFIX, headers: bearer(), payload: webhook() });
      expect(answer.statusCode).toBe(409);
      expect(answer.json<Json>().error).toMatchObject({ code: 'NOTIFICATIONS_NOT_CONFIGURED', message: expect.stringContaining('NOTIFICATION_SECRET_KEYS') });
      expect((await harness.app.inject({ method: 'GET', url: PREFIX, headers: bearer() })).statusCode).toBe(200);
    } finally {
      await harness.close();
    }
  });
});
