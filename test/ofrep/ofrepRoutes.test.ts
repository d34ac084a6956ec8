import { gzipSync } from 'node:zlib';
import { describe, expect, it } from 'vitest';
import type { DatabasePool } from '../../packages/core/src/index.js';
import { ALICE, bearer, useApi } from '../api/support.js';
import { waitFor } from '../helpers/waitFor.js';
import { GOVERNANCE_ACTIONS, applyChange, newestAppliedId } from '../live/support.js';

const READER = { actor: 'dashboard', token: 'reader-token-0123456789abcdef' } as const;
const APP = { actor: 'checkout', token: 'app-token-0123456789abcdefghi' } as const;
const ALERTS = { actor: 'alertmanager', token: 'alerts-token-0123456789abcdef' } as const;

/** Every call the server makes on its pool: OFREP must answer from memory, with none. */
let poolCalls = 0;
const countingPool = (pool: DatabasePool): DatabasePool =>
  new Proxy(pool, {
    get(target, property, receiver) {
      const value: unknown = Reflect.get(target, property, receiver);
      if (typeof value !== 'function') return value;
      return (...args: unknown[]) => {
        poolCalls += 1;
        return (value as (...a: unknown[]) => unknown).apply(target, args);
      };
    },
  });

// A database and server per test: the cases change row 1 and compare versions and tags.
const api = useApi({
  perTest: true,
  wrapPool: countingPool,
  env: {
    READER_TOKENS: `${READER.actor}:${READER.token}`,
    APP_TOKENS: `${APP.actor}:${APP.token}`,
    ALERT_TOKENS: `${ALERTS.actor}:${ALERTS.token}`,
  },
});

const FLAGS = ['valhalla-live', 'valhalla-kill-switch-engaged', 'valhalla-go-live-enabled', 'valhalla-backend-complete'] as const;
const SINGLE = (key: string) => `/ofrep/v1/evaluate/flags/${key}`;
const BULK = '/ofrep/v1/evaluate/flags';

const evaluate = (url: string, options: { headers?: Record<string, string>; payload?: string | Buffer | object } = {}) =>
  api.current.app.inject({
    method: 'POST',
    url,
    // An empty value leaves the header out (e.g. `authorization: ''` to send X-API-Key alone).
    headers: Object.fromEntries(
      Object.entries({ 'content-type': 'application/json', ...bearer(APP.token), ...options.headers }).filter(([, value]) => value !== ''),
    ),
    payload: options.payload ?? { context: { targetingKey: 'user-1' } },
  });

/** Waits until the api's memory holds the newest applied change. */
const served = async () => {
  const version = await newestAppliedId(api.current.database.pool);
  await waitFor(async () => (await evaluate(SINGLE('valhalla-live'))).json().metadata?.version === version, { description: `version ${version} served` });
  return version;
};

const expectFailure = (response: { statusCode: number; json: () => unknown; headers: Record<string, unknown> }, status: number, code: string, key?: string) => {
  expect(response.statusCode).toBe(status);
  expect(response.headers['content-type']).toMatch(/^application\/json/);
  const body = response.json() as Record<string, unknown>;
  expect(body).toEqual({ ...(key === undefined ? {} : { key }), errorCode: code, errorDetails: expect.any(String) });
};

describe('OFREP single-flag evaluation', () => {
  it('evaluates every flag of a fresh install from the live state, in OFREP\'s success shape', async () => {
    const version = await served();
    const etag = (await api.current.app.inject({ url: '/api/governance/live', headers: bearer() })).headers.etag as string;
    const expected = { 'valhalla-live': false, 'valhalla-kill-switch-engaged': true, 'valhalla-go-live-enabled': false, 'valhalla-backend-complete': false };
    for (const key of FLAGS) {
      const response = await evaluate(SINGLE(key));
      expect(response.statusCode).toBe(200);
      expect(response.headers['content-type']).toMatch(/^application\/json/);
      const value = expected[key];
      expect(response.json()).toEqual({
        key,
        value,
        reason: 'STATIC',
        variant: value ? 'on' : 'off',
        // A fresh install's updated_at is null: OFREP metadata has no nulls, so it is left out.
        metadata: { version, etag: etag.replaceAll('"', '') },
      });
    }
  });

  it('follows every change, and ignores the context (no targeting)', async () => {
    const pool = api.current.database.pool;
    await applyChange(pool, GOVERNANCE_ACTIONS.killSwitchRelease);
    await applyChange(pool, GOVERNANCE_ACTIONS.metadataUpdate, { metadata: { backend_complete: true } });
    const version = await served();
    for (const context of [{}, { targetingKey: 'a' }, { targetingKey: 'b', plan: 'premium', nested: { deep: [1, 2] } }]) {
      const engaged = await evaluate(SINGLE('valhalla-kill-switch-engaged'), { payload: { context } });
      expect(engaged.json()).toMatchObject({ value: false, variant: 'off', metadata: { version } });
      expect((await evaluate(SINGLE('valhalla-backend-complete'), { payload: { context } })).json()).toMatchObject({ value: true, variant: 'on' });
    }
  });

  it('answers FLAG_NOT_FOUND (404) with the key for an unknown flag', async () => {
    for (const key of ['valhalla-nope', 'VALHALLA-LIVE', 'valhalla-live.json', '%20']) {
      const response = await evaluate(SINGLE(key));
      expectFailure(response, 404, 'FLAG_NOT_FOUND', decodeURIComponent(key));
    }
  });
});

describe('OFREP bulk evaluation', () => {
  it('answers every flag with the state\'s ETag, 304 for If-None-Match, and a new tag after a change', async () => {
    const version = await served();
    const first = await evaluate(BULK);
    expect(first.statusCode).toBe(200);
    const live = await api.current.app.inject({ url: '/api/governance/live', headers: bearer() });
    expect(first.headers.etag).toBe(live.headers.etag);
    const body = first.json();
    expect(body.flags.map((flag: { key: string }) => flag.key)).toEqual([...FLAGS]);
    expect(body.metadata).toEqual({ version, etag: String(version) });
    for (const flag of body.flags) expect(flag).toEqual((await evaluate(SINGLE(flag.key))).json());

    for (const tag of [first.headers.etag as string, `W/${first.headers.etag as string}`, `"other", ${first.headers.etag as string}`, '*']) {
      const again = await evaluate(BULK, { headers: { 'if-none-match': tag } });
      expect(again.statusCode, tag).toBe(304);
      expect(again.body).toBe('');
      expect(again.headers.etag).toBe(first.headers.etag);
    }
    expect((await evaluate(BULK, { headers: { 'if-none-match': '"999999"' } })).statusCode).toBe(200);

    // The tag is a precondition, evaluated after the headers and before the content (RFC 9110, 13.2.1): a matching tag
    // answers 304 without reading the body, but headers that announce an unacceptable body still answer 400.
    const tag = { 'if-none-match': first.headers.etag as string };
    expect((await evaluate(BULK, { headers: tag, payload: '{"context": ' })).statusCode).toBe(304);
    expectFailure(await evaluate(BULK, { headers: { ...tag, 'content-type': 'text/plain' }, payload: '{"context": {}}' }), 400, 'PARSE_ERROR');
    expectFailure(await evaluate(BULK, { headers: { ...tag, 'content-encoding': 'gzip' }, payload: gzipSync('{"context": {}}') }), 400, 'PARSE_ERROR');
    expectFailure(await evaluate(BULK, { headers: tag, payload: JSON.stringify({ context: { blob: 'a'.repeat(20_000) } }) }), 400, 'PARSE_ERROR');
    const unauthenticated = await api.current.app.inject({ method: 'POST', url: BULK, headers: { ...tag, 'content-type': 'application/json' }, payload: '{}' });
    expect(unauthenticated.statusCode).toBe(401);

    await applyChange(api.current.database.pool, GOVERNANCE_ACTIONS.killSwitchRelease);
    const next = await served();
    const changed = await evaluate(BULK, { headers: { 'if-none-match': first.headers.etag as string } });
    expect(changed.statusCode).toBe(200);
    expect(changed.headers.etag).toBe(`"${next}"`);
    expect(changed.json().flags[1]).toMatchObject({ key: 'valhalla-kill-switch-engaged', value: false });
  });
});

describe('OFREP credentials and roles', () => {
  it('accepts app, reader and operator tokens as Bearer or X-API-Key; only operators and readers see who changed the state and why', async () => {
    await applyChange(api.current.database.pool, GOVERNANCE_ACTIONS.killSwitchRelease, { reason: 'INC-42: payments restored' });
    await served();
    for (const [token, full] of [[APP.token, false], [READER.token, true], [ALICE.token, true]] as const) {
      const credentials: Record<string, string>[] = [{ authorization: `Bearer ${token}` }, { authorization: '', 'x-api-key': token }];
      for (const headers of credentials) {
        const single = await evaluate(SINGLE('valhalla-live'), { headers });
        expect(single.statusCode).toBe(200);
        const bulk = await evaluate(BULK, { headers });
        expect(bulk.statusCode).toBe(200);
        for (const metadata of [single.json().metadata, ...bulk.json().flags.map((flag: { metadata: unknown }) => flag.metadata)]) {
          if (full) expect(metadata).toMatchObject({ changed_by: 'live-test', reason: 'INC-42: payments restored' });
          else {
            expect(Object.keys(metadata).sort()).toEqual(['etag', 'updated_at', 'version']);
            expect(JSON.stringify(metadata)).not.toContain('INC-42');
          }
        }
      }
    }
  });

  it('answers 401 without a valid credential and 403 to the alerts role, as {"errorDetails"}', async () => {
    const unauthenticated = [
      { authorization: '' },
      { authorization: 'Bearer not-a-configured-token-000' },
      { authorization: `Basic ${APP.token}` },
      { authorization: '', 'x-api-key': 'not-a-configured-token-000' },
      { authorization: '', 'x-api-key': ` ${APP.token}` },
      // An Authorization header is the credential when present: a valid X-API-Key does not rescue a wrong one.
      { authorization: 'Bearer not-a-configured-token-000', 'x-api-key': APP.token },
    ];
    for (const headers of unauthenticated) {
      const cleaned = Object.fromEntries(Object.entries(headers).filter(([, value]) => value !== ''));
      for (const url of [SINGLE('valhalla-live'), BULK]) {
        const response = await api.current.app.inject({ method: 'POST', url, headers: { 'content-type': 'application/json', ...cleaned }, payload: { context: {} } });
        expect(response.statusCode, JSON.stringify(headers)).toBe(401);
        expect(response.json()).toEqual({ errorDetails: expect.stringMatching(/X-API-Key/) });
        expect(response.headers['www-authenticate']).toMatch(/Bearer/);
      }
    }
    for (const headers of [bearer(ALERTS.token), { 'x-api-key': ALERTS.token }]) {
      const response = await api.current.app.inject({ method: 'POST', url: BULK, headers: { 'content-type': 'application/json', ...headers }, payload: { context: {} } });
      expect(response.statusCode).toBe(403);
      expect(response.json()).toEqual({ errorDetails: 'the alerts role may not evaluate flags' });
    }
  });
});

describe('OFREP bad input', () => {
  const BAD: [name: string, options: { headers?: Record<string, string>; payload?: string | Buffer }, code: string][] = [
    ['not JSON', { payload: '{"context": ' }, 'PARSE_ERROR'],
    ['a JSON array', { payload: '[]' }, 'PARSE_ERROR'],
    ['a JSON string', { payload: '"context"' }, 'PARSE_ERROR'],
    ['JSON null', { payload: 'null' }, 'PARSE_ERROR'],
    ['a number', { payload: '1' }, 'PARSE_ERROR'],
    ['an empty body', { payload: '' }, 'PARSE_ERROR'],
    ['invalid UTF-8', { payload: Buffer.from([0x7b, 0x22, 0xff, 0x22, 0x3a, 0x31, 0x7d]) }, 'PARSE_ERROR'],
    ['text/plain', { headers: { 'content-type': 'text/plain' }, payload: '{"context": {}}' }, 'PARSE_ERROR'],
    ['form data', { headers: { 'content-type': 'application/x-www-form-urlencoded' }, payload: 'context=1' }, 'PARSE_ERROR'],
    ['a gzip body', { headers: { 'content-encoding': 'gzip' }, payload: gzipSync('{"context": {}}') }, 'PARSE_ERROR'],
    ['a context over the body limit', { payload: JSON.stringify({ context: { targetingKey: 'x', blob: 'a'.repeat(64 * 1024) } }) }, 'PARSE_ERROR'],
    ['a context that is an array', { payload: '{"context": []}' }, 'INVALID_CONTEXT'],
    ['a context that is null', { payload: '{"context": null}' }, 'INVALID_CONTEXT'],
    ['a context that is a string', { payload: '{"context": "user-1"}' }, 'INVALID_CONTEXT'],
    ['a targetingKey that is a number', { payload: '{"context": {"targetingKey": 42}}' }, 'INVALID_CONTEXT'],
  ];

  it.each(BAD)('answers %s with 400 in OFREP\'s shape, on both routes', async (_name, options, code) => {
    const calls = poolCalls;
    expectFailure(await evaluate(SINGLE('valhalla-live'), options), 400, code, 'valhalla-live');
    expectFailure(await evaluate(BULK, options), 400, code);
    // A bad body with an unknown key is a bad request first.
    expectFailure(await evaluate(SINGLE('no-such-flag'), options), 400, code, 'no-such-flag');
    expect(poolCalls).toBe(calls);
  });

  it('answers a body with no content type, a malformed or over-long key path, and other methods in OFREP\'s shapes', async () => {
    const noBody = await api.current.app.inject({ method: 'POST', url: BULK, headers: bearer(APP.token) });
    expectFailure(noBody, 400, 'PARSE_ERROR');
    const untyped = await api.current.app.inject({ method: 'POST', url: BULK, headers: bearer(APP.token), payload: '{"context": {}}' });
    expect(untyped.statusCode).toBe(400);
    expectFailure(await evaluate(SINGLE('%E0%A4%A')), 400, 'PARSE_ERROR');
    expectFailure(await evaluate(SINGLE('k'.repeat(600))), 400, 'PARSE_ERROR');
    const get = await api.current.app.inject({ method: 'GET', url: SINGLE('valhalla-live'), headers: bearer(APP.token) });
    expect(get.statusCode).toBe(404);
    expect(get.json()).toEqual({ errorDetails: expect.stringMatching(/POST/) });
  });

  it('takes a body without a context as an empty context, as OpenFeature\'s Python provider sends it', async () => {
    for (const url of [SINGLE('valhalla-live'), BULK]) {
      const response = await evaluate(url, { payload: '{}' });
      expect(response.statusCode).toBe(200);
    }
  });

  it('ignores fields OFREP may add and keys that are prototype-pollution vectors elsewhere (the context is not used)', async () => {
    const response = await evaluate(SINGLE('valhalla-live'), {
      payload: '{"context": {"targetingKey": "u", "__proto__": {"polluted": true}, "constructor": {"prototype": {"x": 1}}}, "flags": ["x"]}',
    });
    expect(response.statusCode).toBe(200);
    expect(({} as Record<string, unknown>).polluted).toBeUndefined();
  });
});

describe('OFREP and the database', () => {
  it('answers every evaluation from memory: no database call per request', async () => {
    await served();
    const calls = poolCalls;
    const answers = await Promise.all(
      Array.from({ length: 200 }, (_, i) => evaluate(i % 2 === 0 ? BULK : SINGLE(FLAGS[i % FLAGS.length] as string), i % 4 === 0 ? { headers: { 'x-api-key': APP.token, authorization: '' } } : {})),
    );
    expect(answers.filter((response) => response.statusCode !== 200).map((response) => response.statusCode)).toEqual([]);
    expect(poolCalls).toBe(calls);
  });
});
