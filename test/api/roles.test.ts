import { describe, expect, it } from 'vitest';
import { sql } from '../../packages/core/src/index.js';
import { ALICE, BOB, bearer, startApi, useApi } from './support.js';

const READER = { actor: 'rita', token: 'rita-reader-token-0123456789' } as const;
const APP = { actor: 'shop', token: 'shop-app-token-0123456789ab' } as const;
const ALERTS = { actor: 'am', token: 'alertmanager-token-012345678' } as const;

const api = useApi({
  env: {
    READER_TOKENS: `${READER.actor}:${READER.token}`,
    APP_TOKENS: `${APP.actor}:${APP.token}`,
    ALERT_TOKENS: `${ALERTS.actor}:${ALERTS.token}`,
    ADMIN_ACTORS: ALICE.actor,
  },
});

type Role = 'operator' | 'reader' | 'app' | 'alerts';
const TOKENS: Record<Role, string> = { operator: ALICE.token, reader: READER.token, app: APP.token, alerts: ALERTS.token };

type Route = { method: 'GET' | 'POST' | 'PATCH' | 'DELETE'; url: string; body?: object; allowed: Role[] };
const reason = 'role test';
const NO_REQUEST = '00000000-0000-4000-8000-000000000000';
/** Every /api route (besides sign-in, which is public) and who may call it. */
export const ROUTES: Route[] = [
  { method: 'GET', url: '/api/session', allowed: ['operator', 'reader', 'app', 'alerts'] },
  { method: 'DELETE', url: '/api/session', allowed: ['operator', 'reader', 'app', 'alerts'] },
  { method: 'GET', url: '/api/governance/runbook/status', allowed: ['operator', 'reader'] },
  { method: 'GET', url: '/api/governance/audit', allowed: ['operator', 'reader'] },
  { method: 'GET', url: '/api/governance/verifications', allowed: ['operator', 'reader'] },
  { method: 'GET', url: '/api/jobs/no-such-job', allowed: ['operator', 'reader'] },
  { method: 'POST', url: '/api/governance/go-live', body: { enabled: false, reason }, allowed: ['operator'] },
  { method: 'POST', url: '/api/governance/kill-switch', body: { engaged: true, reason }, allowed: ['operator'] },
  { method: 'POST', url: '/api/governance/system-metadata', body: { notes: 'x', reason }, allowed: ['operator'] },
  { method: 'POST', url: '/api/governance/verify', body: {}, allowed: ['operator'] },
  { method: 'POST', url: '/api/jobs/no-such-job/retry', body: { reason }, allowed: ['operator'] },
  { method: 'GET', url: '/api/governance/change-requests', allowed: ['operator', 'reader'] },
  { method: 'POST', url: `/api/governance/change-requests/${NO_REQUEST}/approve`, body: { reason }, allowed: ['operator'] },
  { method: 'POST', url: `/api/governance/change-requests/${NO_REQUEST}/reject`, body: { reason }, allowed: ['operator'] },
  { method: 'POST', url: `/api/governance/change-requests/${NO_REQUEST}/cancel`, body: { reason }, allowed: ['operator'] },
  { method: 'POST', url: '/api/queues/verification/pause', body: { reason }, allowed: ['operator'] },
  { method: 'POST', url: '/api/queues/verification/resume', body: { reason }, allowed: ['operator'] },
  { method: 'POST', url: '/api/hooks/alertmanager', body: { version: '4', status: 'resolved', alerts: [] }, allowed: ['operator', 'alerts'] },
  { method: 'GET', url: '/api/notifications/subscriptions', allowed: ['operator', 'reader'] },
  { method: 'GET', url: `/api/notifications/subscriptions/${NO_REQUEST}`, allowed: ['operator', 'reader'] },
  { method: 'GET', url: `/api/notifications/subscriptions/${NO_REQUEST}/deliveries`, allowed: ['operator', 'reader'] },
  { method: 'POST', url: '/api/notifications/subscriptions', body: { kind: 'webhook', url: 'http://127.0.0.1:9/', filter: {}, reason }, allowed: ['operator'] },
  { method: 'PATCH', url: `/api/notifications/subscriptions/${NO_REQUEST}`, body: { enabled: false, reason }, allowed: ['operator'] },
  { method: 'DELETE', url: `/api/notifications/subscriptions/${NO_REQUEST}`, body: { reason }, allowed: ['operator'] },
  { method: 'POST', url: `/api/notifications/subscriptions/${NO_REQUEST}/resume`, body: { reason }, allowed: ['operator'] },
  { method: 'POST', url: `/api/notifications/subscriptions/${NO_REQUEST}/rotate-secret`, body: { reason }, allowed: ['operator'] },
];

const call = (route: Route, headers: Record<string, string>) =>
  api.current.app.inject({ method: route.method, url: route.url, headers, ...(route.body === undefined ? {} : { payload: route.body }) });

const expectError = (response: { statusCode: number; json: () => unknown }, status: number, code: string) => {
  expect(response.statusCode).toBe(status);
  const body = response.json() as { error: Record<string, unknown> };
  expect(Object.keys(body)).toEqual(['error']);
  expect(body.error).toMatchObject({ code, message: expect.any(String) });
  expect(Object.keys(body.error).every((key) => ['code', 'message', 'details'].includes(key))).toBe(true);
};

describe('each role against every /api route', () => {
  it.each(ROUTES.map((route) => [`${route.method} ${route.url}`, route] as const))('%s', async (_name, route) => {
    expectError(await call(route, {}), 401, 'UNAUTHENTICATED');
    expectError(await call(route, { authorization: 'Bearer not-a-configured-token-0000' }), 401, 'UNAUTHENTICATED');
    for (const role of Object.keys(TOKENS) as Role[]) {
      const response = await call(route, bearer(TOKENS[role]));
      if (route.allowed.includes(role)) {
        expect([401, 403], `${role} may call ${route.method} ${route.url}`).not.toContain(response.statusCode);
      } else {
        expectError(response, 403, 'FORBIDDEN');
      }
    }
  });

  it('tells the caller its role', async () => {
    for (const role of Object.keys(TOKENS) as Role[]) {
      const response = await api.current.app.inject({ method: 'GET', url: '/api/session', headers: bearer(TOKENS[role]) });
      expect(response.json()).toMatchObject({ role, csrfToken: null });
    }
  });
});

/** Signs in through POST /api/session and returns the cookie and the CSRF token. */
const signIn = async (token: string) => {
  const response = await api.current.app.inject({ method: 'POST', url: '/api/session', payload: { token } });
  expect(response.statusCode).toBe(200);
  const setCookie = String(response.headers['set-cookie']);
  return { body: response.json<{ actor: string; role: string; csrfToken: string }>(), setCookie, cookie: setCookie.split(';')[0] ?? '' };
};

describe('console session (/api/session)', () => {
  it('signs in with a token: HttpOnly, Secure, SameSite=Strict cookie, and the actor, role and CSRF token', async () => {
    const { body, setCookie, cookie } = await signIn(ALICE.token);
    expect(body).toEqual({ actor: ALICE.actor, role: 'operator', csrfToken: expect.stringMatching(/^[A-Za-z0-9_-]{43}$/) });
    expect(setCookie).toMatch(/^valhalla_session=[A-Za-z0-9_-]{43}; Path=\/; Expires=.*; HttpOnly; Secure; SameSite=Strict$/);
    const again = await api.current.app.inject({ method: 'GET', url: '/api/session', headers: { cookie } });
    expect(again.json()).toEqual(body);
  });

  it('refuses an unknown token (401) and app or alert tokens (403), without a cookie', async () => {
    for (const [token, status, code] of [['wrong-token-00000000000000000', 401, 'UNAUTHENTICATED'], [APP.token, 403, 'FORBIDDEN'], [ALERTS.token, 403, 'FORBIDDEN']] as const) {
      const response = await api.current.app.inject({ method: 'POST', url: '/api/session', payload: { token } });
      expectError(response, status, code);
      expect(response.headers['set-cookie']).toBeUndefined();
    }
  });

  it('authenticates /api as the signed-in actor; a write needs the session\'s X-CSRF-Token', async () => {
    const { body, cookie } = await signIn(ALICE.token);
    const jobsBefore = await api.current.jobCount();
    expect((await api.current.app.inject({ method: 'GET', url: '/api/governance/audit', headers: { cookie } })).statusCode).toBe(200);
    const write = (headers: Record<string, string>) =>
      api.current.app.inject({ method: 'POST', url: '/api/governance/kill-switch', headers: { cookie, ...headers }, payload: { engaged: false, reason: 'csrf test' } });
    const missing = await write({});
    expectError(missing, 403, 'FORBIDDEN');
    expect(missing.json().error.message).toMatch(/X-CSRF-Token/);
    expectError(await write({ 'x-csrf-token': 'A'.repeat(43) }), 403, 'FORBIDDEN');
    // Another session's CSRF token does not fit this one.
    const other = await signIn(ALICE.token);
    expectError(await write({ 'x-csrf-token': other.body.csrfToken }), 403, 'FORBIDDEN');
    expect(await api.current.jobCount()).toBe(jobsBefore);

    const accepted = await write({ 'x-csrf-token': body.csrfToken });
    expect(accepted.statusCode).toBe(202);
    const job = await api.current.queues.findJob(accepted.json().jobId);
    expect(job?.data).toMatchObject({ actor: ALICE.actor, action: 'kill_switch.release' });
    await job?.remove();
  });

  it('gives a reader\'s session the reader role: reads yes, writes 403 even with the CSRF token', async () => {
    const { body, cookie } = await signIn(READER.token);
    expect(body.role).toBe('reader');
    expect((await api.current.app.inject({ method: 'GET', url: '/api/governance/runbook/status', headers: { cookie } })).statusCode).toBe(200);
    const write = await api.current.app.inject({ method: 'POST', url: '/api/governance/go-live', headers: { cookie, 'x-csrf-token': body.csrfToken }, payload: { enabled: false, reason } });
    expectError(write, 403, 'FORBIDDEN');
  });

  it('logout revokes the session in PostgreSQL: reusing the cookie afterwards is 401', async () => {
    const { body, cookie } = await signIn(ALICE.token);
    expectError(await api.current.app.inject({ method: 'DELETE', url: '/api/session', headers: { cookie } }), 403, 'FORBIDDEN');
    const out = await api.current.app.inject({ method: 'DELETE', url: '/api/session', headers: { cookie, 'x-csrf-token': body.csrfToken } });
    expect(out.statusCode).toBe(204);
    expect(String(out.headers['set-cookie'])).toMatch(/^valhalla_session=;/);
    expectError(await api.current.app.inject({ method: 'GET', url: '/api/session', headers: { cookie } }), 401, 'UNAUTHENTICATED');
    expectError(await api.current.app.inject({ method: 'GET', url: '/api/governance/audit', headers: { cookie } }), 401, 'UNAUTHENTICATED');
  });

  it('ends a session when it expires, and when its token is removed from the environment (on another instance too)', async () => {
    const expiring = await signIn(ALICE.token);
    const kept = await signIn(ALICE.token);
    const bobs = await signIn(BOB.token);
    await api.current.database.pool.query(sql.unsafe`UPDATE public.api_sessions SET expires_at = now() - interval '1 second' WHERE actor = 'alice'`);
    expectError(await api.current.app.inject({ method: 'GET', url: '/api/session', headers: { cookie: expiring.cookie } }), 401, 'UNAUTHENTICATED');
    expectError(await api.current.app.inject({ method: 'GET', url: '/api/session', headers: { cookie: kept.cookie } }), 401, 'UNAUTHENTICATED');

    // A second api instance on the same database, where bob's token was rotated: his session ends there; alice's
    // new session from the first instance works there too.
    const fresh = await signIn(ALICE.token);
    const other = await startApi(api.current.database, { env: { GOVERNANCE_TOKENS: `${ALICE.actor}:${ALICE.token},${BOB.actor}:bob-rotated-token-0123456789ab` } });
    try {
      expect((await other.app.inject({ method: 'GET', url: '/api/session', headers: { cookie: fresh.cookie } })).json()).toMatchObject({ actor: 'alice' });
      expectError(await other.app.inject({ method: 'GET', url: '/api/session', headers: { cookie: bobs.cookie } }), 401, 'UNAUTHENTICATED');
      // Logout on one instance ends the session on the other.
      await other.app.inject({ method: 'DELETE', url: '/api/session', headers: { cookie: fresh.cookie, 'x-csrf-token': fresh.body.csrfToken } });
      expectError(await api.current.app.inject({ method: 'GET', url: '/api/session', headers: { cookie: fresh.cookie } }), 401, 'UNAUTHENTICATED');
    } finally {
      await other.close();
    }
  });

  it('a bearer token is never overridden by a cookie, and an invalid bearer is not rescued by one', async () => {
    const { cookie } = await signIn(ALICE.token);
    expectError(await api.current.app.inject({ method: 'GET', url: '/api/governance/audit', headers: { cookie, authorization: 'Bearer wrong-token-0000000000000' } }), 401, 'UNAUTHENTICATED');
    const reader = await api.current.app.inject({ method: 'POST', url: '/api/governance/go-live', headers: { cookie, ...bearer(READER.token) }, payload: { enabled: false, reason } });
    expectError(reader, 403, 'FORBIDDEN');
  });
});
