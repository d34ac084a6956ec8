import { describe, expect, it } from 'vitest';
import { createAdminSessions } from '../../apps/api/src/admin/adminSessions.js';
import { ALICE, BOB, bearer, startApi, useApi } from './support.js';

// alice is an admin; bob may only look.
const api = useApi({ env: { ADMIN_ACTORS: 'alice' } });

const request = (method: 'GET' | 'PUT' | 'POST', url: string, headers: Record<string, string> = {}, payload?: string | object) =>
  api.current.app.inject({ method, url, headers, ...(payload === undefined ? {} : { payload }) });

/** Logs in with a JSON body and returns the `name=value` of the session cookie and its attributes. */
const login = async (token: string, app = api.current.app) => {
  const response = await app.inject({ method: 'POST', url: '/admin/login', payload: { token } });
  expect(response.statusCode).toBe(200);
  const setCookie = String(response.headers['set-cookie']);
  return { response, setCookie, cookie: setCookie.split(';')[0] ?? '' };
};

describe('queue dashboard at /admin/queues', () => {
  it('answers 401 without a token or session, for the page and its API', async () => {
    for (const url of ['/admin/queues', '/admin/queues/api/queues']) {
      const response = await request('GET', url);
      expect(response.statusCode).toBe(401);
      expect(response.json().error.code).toBe('UNAUTHENTICATED');
    }
    const wrong = await request('GET', '/admin/queues/api/queues', { authorization: 'Bearer not-a-token-at-all-000000' });
    expect(wrong.statusCode).toBe(401);
    const tampered = await request('GET', '/admin/queues/api/queues', { cookie: `valhalla_admin=v1.9999999999.${'A'.repeat(43)}` });
    expect(tampered.statusCode).toBe(401);
    // A browser is pointed at the login page.
    const browser = await request('GET', '/admin/queues', { accept: 'text/html' });
    expect(browser.statusCode).toBe(401);
    expect(browser.body).toContain('/admin/login');
  });

  it('serves the page and its JSON API for both queues with a bearer token', async () => {
    const page = await request('GET', '/admin/queues', bearer(BOB.token));
    expect(page.statusCode).toBe(200);
    expect(page.headers['content-type']).toMatch(/text\/html/);
    const queues = await request('GET', '/admin/queues/api/queues', bearer(BOB.token));
    expect(queues.statusCode).toBe(200);
    expect((queues.json().queues as { name: string }[]).map((queue) => queue.name).sort()).toEqual(['governance', 'verification']);
  });

  it('refuses a non-admin\'s changes with 403 FORBIDDEN and lets an admin make them', async () => {
    const governance = api.current.queues.byName.governance;
    const refused = await request('PUT', '/admin/queues/api/queues/governance/pause', bearer(BOB.token));
    expect(refused.statusCode).toBe(403);
    expect(refused.json().error.code).toBe('FORBIDDEN');
    for (const url of ['/admin/queues/api/queues/governance/clean/failed', '/admin/queues/api/queues/governance/retry/failed', '/admin/queues/api/queues/governance/obliterate']) {
      expect((await request('PUT', url, bearer(BOB.token))).statusCode).toBe(403);
    }
    expect((await request('POST', '/admin/queues/api/queues/governance/add', bearer(BOB.token), { name: 'x', data: {} })).statusCode).toBe(403);
    expect(await governance.isPaused()).toBe(false);

    const paused = await request('PUT', '/admin/queues/api/queues/governance/pause', bearer(ALICE.token));
    expect(paused.statusCode).toBe(200);
    expect(await governance.isPaused()).toBe(true);
    const resumed = await request('PUT', '/admin/queues/api/queues/governance/resume', bearer(ALICE.token));
    expect(resumed.statusCode).toBe(200);
    expect(await governance.isPaused()).toBe(false);
  });
});

describe('dashboard login', () => {
  it('shows a login form', async () => {
    const response = await request('GET', '/admin/login');
    expect(response.statusCode).toBe(200);
    expect(response.headers['content-type']).toMatch(/text\/html/);
    expect(response.body).toMatch(/<form method="post" action="\/admin\/login">/);
  });

  it('sets an HttpOnly, SameSite=Strict session cookie that holds no token and grants the same access', async () => {
    const { response, setCookie, cookie } = await login(BOB.token);
    expect(response.json()).toMatchObject({ actor: BOB.actor, admin: false });
    expect(setCookie).toMatch(/^valhalla_admin=v1\./);
    expect(setCookie).toMatch(/HttpOnly/);
    expect(setCookie).toMatch(/SameSite=Strict/);
    expect(setCookie).toMatch(/Path=\/admin/);
    expect(setCookie).not.toMatch(/Secure/);
    expect(setCookie).not.toContain(BOB.token);
    expect(response.body).not.toContain(BOB.token);

    expect((await request('GET', '/admin/queues', { cookie })).statusCode).toBe(200);
    expect((await request('GET', '/admin/queues/api/queues', { cookie })).statusCode).toBe(200);
    expect((await request('PUT', '/admin/queues/api/queues/governance/pause', { cookie })).statusCode).toBe(403);

    const admin = await login(ALICE.token);
    expect(admin.response.json()).toMatchObject({ actor: ALICE.actor, admin: true });
    expect((await request('PUT', '/admin/queues/api/queues/verification/pause', { cookie: admin.cookie })).statusCode).toBe(200);
    expect((await request('PUT', '/admin/queues/api/queues/verification/resume', { cookie: admin.cookie })).statusCode).toBe(200);
    // The session does not open the bearer-only /api routes.
    expect((await request('GET', '/api/governance/audit', { cookie })).statusCode).toBe(401);
  });

  it('accepts the HTML form, redirects to the dashboard, and never echoes a wrong token', async () => {
    const form = { 'content-type': 'application/x-www-form-urlencoded' };
    const ok = await request('POST', '/admin/login', form, `token=${encodeURIComponent(ALICE.token)}`);
    expect(ok.statusCode).toBe(303);
    expect(ok.headers.location).toBe('/admin/queues');
    expect(String(ok.headers['set-cookie'])).toMatch(/^valhalla_admin=/);

    const wrongToken = 'wrong-token-<script>alert(1)</script>';
    const refused = await request('POST', '/admin/login', form, `token=${encodeURIComponent(wrongToken)}`);
    expect(refused.statusCode).toBe(401);
    expect(refused.headers['set-cookie']).toBeUndefined();
    expect(refused.body).not.toContain('wrong-token');
    const json = await request('POST', '/admin/login', {}, { token: wrongToken });
    expect(json.statusCode).toBe(401);
    expect(json.json().error.code).toBe('UNAUTHENTICATED');
    expect(json.body).not.toContain('wrong-token');
  });

  it('clears the cookie on logout', async () => {
    const response = await request('POST', '/admin/logout');
    expect(response.statusCode).toBe(204);
    expect(String(response.headers['set-cookie'])).toMatch(/^valhalla_admin=;.*Expires=Thu, 01 Jan 1970/);
  });

  it('marks the cookie Secure in production', async () => {
    const production = await startApi(api.current.database, { env: { NODE_ENV: 'production', ADMIN_ACTORS: 'alice', AUDIT_HMAC_KEYS: 'k1:a-production-audit-key-for-tests-000' } });
    try {
      expect((await login(ALICE.token, production.app)).setCookie).toMatch(/; Secure/);
    } finally {
      await production.close();
    }
  });

  it('expires sessions, and a session made with a token that is no longer configured is refused', async () => {
    let now = Date.parse('2026-01-01T00:00:00Z');
    const sessions = createAdminSessions([{ actor: 'alice', token: ALICE.token }], { ttlMs: 60_000, now: () => now });
    const issued = sessions.issue(ALICE.token);
    expect(sessions.issue('nope')).toBeNull();
    expect(sessions.verify(issued?.value)).toEqual({ actor: 'alice', tokenId: 't0' });
    now += 61_000;
    expect(sessions.verify(issued?.value)).toBeNull();
    const rotated = createAdminSessions([{ actor: 'alice', token: 'a-new-token-0123456789abcdef' }], { now: () => Date.parse('2026-01-01T00:00:00Z') });
    expect(rotated.verify(issued?.value)).toBeNull();
  });
});
