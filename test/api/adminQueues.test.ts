import { describe, expect, it } from 'vitest';
import { verifyAuditChain, listAuditEntriesInOrder } from '../../packages/core/src/index.js';
import { ALICE, BOB, bearer, useApi } from './support.js';

const READER = { actor: 'rita', token: 'rita-reader-token-0123456789' } as const;
const APP = { actor: 'shop', token: 'shop-app-token-0123456789ab' } as const;

// alice is an admin; bob is an operator who may only look; rita reads; shop is an application.
const api = useApi({ env: { ADMIN_ACTORS: 'alice', READER_TOKENS: `${READER.actor}:${READER.token}`, APP_TOKENS: `${APP.actor}:${APP.token}` } });

const request = (method: 'GET' | 'PUT' | 'POST' | 'PATCH', url: string, headers: Record<string, string> = {}, payload?: string | object) =>
  api.current.app.inject({ method, url, headers, ...(payload === undefined ? {} : { payload }) });

/** Logs in with a JSON body and returns the `name=value` of the session cookie and its attributes. */
const login = async (token: string) => {
  const response = await api.current.app.inject({ method: 'POST', url: '/admin/login', payload: { token } });
  expect(response.statusCode).toBe(200);
  const setCookie = String(response.headers['set-cookie']);
  return { response, setCookie, cookie: setCookie.split(';')[0] ?? '' };
};

/** Every write bull-board offers, as its UI sends them. */
const DASHBOARD_WRITES: [method: 'PUT' | 'POST' | 'PATCH', url: string, body?: object][] = [
  ['POST', '/admin/queues/api/queues/governance/add', { name: 'go-live-change', data: { action: 'kill_switch.release', actor: 'ops', reason: 'forged' } }],
  ['PATCH', '/admin/queues/api/queues/governance/some-job/update-data', { jobData: { action: 'kill_switch.release', actor: 'ops', reason: 'rewrite' } }],
  ['PUT', '/admin/queues/api/queues/governance/pause'],
  ['PUT', '/admin/queues/api/queues/governance/resume'],
  ['PUT', '/admin/queues/api/queues/pause'],
  ['PUT', '/admin/queues/api/queues/governance/retry/failed'],
  ['PUT', '/admin/queues/api/queues/governance/clean/failed'],
  ['PUT', '/admin/queues/api/queues/governance/promote'],
  ['PUT', '/admin/queues/api/queues/governance/empty'],
  ['PUT', '/admin/queues/api/queues/governance/obliterate'],
  ['PUT', '/admin/queues/api/queues/governance/some-job/retry'],
  ['PUT', '/admin/queues/api/queues/governance/some-job/promote'],
  ['PATCH', '/admin/queues/api/queues/governance/some-job/priority', { priority: 1 }],
];

describe('queue dashboard at /admin/queues', () => {
  it('answers 401 without a token or session, for the page and its API', async () => {
    for (const url of ['/admin/queues', '/admin/queues/api/queues']) {
      const response = await request('GET', url);
      expect(response.statusCode).toBe(401);
      expect(response.json().error.code).toBe('UNAUTHENTICATED');
    }
    const wrong = await request('GET', '/admin/queues/api/queues', { authorization: 'Bearer not-a-token-at-all-000000' });
    expect(wrong.statusCode).toBe(401);
    const forged = await request('GET', '/admin/queues/api/queues', { cookie: `valhalla_session=${'A'.repeat(43)}` });
    expect(forged.statusCode).toBe(401);
    // A browser is pointed at the login page.
    const browser = await request('GET', '/admin/queues', { accept: 'text/html' });
    expect(browser.statusCode).toBe(401);
    expect(browser.body).toContain('/admin/login');
  });

  it('lets operators and readers look, in read-only mode; applications may not', async () => {
    for (const token of [BOB.token, READER.token]) {
      const page = await request('GET', '/admin/queues', bearer(token));
      expect(page.statusCode).toBe(200);
      expect(page.headers['content-type']).toMatch(/text\/html/);
      const queues = await request('GET', '/admin/queues/api/queues', bearer(token));
      expect(queues.statusCode).toBe(200);
      const listed = queues.json().queues as { name: string; readOnlyMode: boolean; allowRetries: boolean }[];
      expect(listed.map((queue) => queue.name).sort()).toEqual(['governance', 'governance-safety', 'verification']);
      // The UI hides every write button for read-only queues.
      expect(listed.every((queue) => queue.readOnlyMode && !queue.allowRetries)).toBe(true);
    }
    const app = await request('GET', '/admin/queues/api/queues', bearer(APP.token));
    expect(app.statusCode).toBe(403);
    expect(app.json().error.code).toBe('FORBIDDEN');
  });

  it('refuses every write, even an admin\'s, so no job is added, rewritten or paused behind the audit log', async () => {
    const governance = api.current.queues.byName.governance;
    const job = await governance.add('go-live-change', { action: 'kill_switch.engage', actor: 'alice', reason: 'original' }, { jobId: 'some-job', priority: 1 });
    const { cookie } = await login(ALICE.token);
    for (const credentials of [bearer(ALICE.token), { cookie }, bearer(BOB.token)]) {
      for (const [method, url, body] of DASHBOARD_WRITES) {
        const response = await request(method, url, credentials, body);
        expect(response.statusCode, `${method} ${url}`).toBe(403);
        expect(response.json().error.code).toBe('FORBIDDEN');
      }
    }
    expect(await governance.isPaused()).toBe(false);
    expect(await api.current.jobCount()).toBe(1);
    expect((await governance.getJob(job.id ?? ''))?.data).toEqual({ action: 'kill_switch.engage', actor: 'alice', reason: 'original' });
    await job.remove();
  });

  it('lets no HTTP body choose the actor: an actor field is refused by name, nothing is queued', async () => {
    const before = await api.current.jobCount();
    for (const [url, body] of [
      ['/api/governance/kill-switch', { engaged: false, reason: 'forged', actor: 'ops' }],
      ['/api/governance/go-live', { enabled: true, reason: 'forged', actor: 'ops' }],
      ['/api/governance/verify', { actor: 'ops' }],
      ['/api/jobs/x/retry', { reason: 'forged', actor: 'ops' }],
      ['/api/queues/governance/pause', { reason: 'forged', actor: 'ops' }],
    ] as const) {
      const response = await request('POST', url, bearer(ALICE.token), body);
      expect(response.statusCode, url).toBe(400);
      expect(response.json().error.details).toContainEqual({ field: 'actor', message: 'unknown field' });
    }
    expect(await api.current.jobCount()).toBe(before);
  });
});

describe('pausing a queue: audited, through the API, by ADMIN_ACTORS only', () => {
  const pause = (token: string, step: 'pause' | 'resume', reason = 'maintenance window') =>
    request('POST', `/api/queues/governance/${step}`, bearer(token), { reason });

  it('refuses non-admin operators, readers and apps, and leaves the queue running', async () => {
    for (const [token, status] of [[BOB.token, 403], [READER.token, 403], [APP.token, 403]] as const) {
      const response = await pause(token, 'pause');
      expect(response.statusCode).toBe(status);
      expect(response.json().error.code).toBe('FORBIDDEN');
    }
    expect(await api.current.queues.byName.governance.isPaused()).toBe(false);
  });

  it('pauses with an audit event naming the admin, shows it in /health (still 200) and the runbook status, then resumes', async () => {
    // Entries from before this case (another case pauses the verification queue) are not this case's.
    const earlier = (await listAuditEntriesInOrder(api.current.database.pool)).length;
    const paused = await pause(ALICE.token, 'pause', 'database upgrade');
    expect(paused.statusCode).toBe(200);
    expect(paused.json()).toEqual({ queue: 'governance', paused: true });
    expect(await api.current.queues.byName.governance.isPaused()).toBe(true);

    const health = await request('GET', '/health');
    expect(health.statusCode).toBe(200);
    expect(health.json()).toMatchObject({ status: 'ok', paused_queues: ['governance'] });
    const status = await request('GET', '/api/governance/runbook/status', bearer(READER.token));
    expect(status.json().paused_queues).toEqual(['governance']);

    expect((await pause(ALICE.token, 'resume', 'upgrade done')).json()).toEqual({ queue: 'governance', paused: false });
    expect(await api.current.queues.byName.governance.isPaused()).toBe(false);
    expect((await request('GET', '/health')).json().paused_queues).toEqual([]);

    const events = (await listAuditEntriesInOrder(api.current.database.pool)).slice(earlier).filter((entry) => entry.action.startsWith('queue.'));
    expect(events.map((entry) => [entry.kind, entry.action, entry.actor, entry.reason, entry.details])).toEqual([
      ['event', 'queue.paused', 'alice', 'database upgrade', { queue: 'governance' }],
      ['event', 'queue.resumed', 'alice', 'upgrade done', { queue: 'governance' }],
    ]);
    expect((await verifyAuditChain(api.current.database.pool, api.current.config.auditKeyring, { mode: 'full' })).problem).toBeNull();
  });

  it('refuses to pause the safety lane, even for an admin: engages and disables always run', async () => {
    const earlier = (await listAuditEntriesInOrder(api.current.database.pool)).length;
    const response = await request('POST', '/api/queues/governance-safety/pause', bearer(ALICE.token), { reason: 'hold engages' });
    expect(response.statusCode).toBe(403);
    expect(response.json().error).toMatchObject({ code: 'FORBIDDEN', message: expect.stringContaining('governance-safety cannot be paused') });
    expect(await api.current.queues.byName['governance-safety'].isPaused()).toBe(false);
    expect((await listAuditEntriesInOrder(api.current.database.pool)).length).toBe(earlier);
    // Resuming it stays possible (another client may have paused it).
    expect((await request('POST', '/api/queues/governance-safety/resume', bearer(ALICE.token), { reason: 'resume' })).statusCode).toBe(200);
  });

  it('a pause with the session cookie needs the X-CSRF-Token', async () => {
    const { cookie, response } = await login(ALICE.token);
    const csrf = response.json().csrfToken as string;
    const refused = await request('POST', '/api/queues/verification/pause', { cookie }, { reason: 'no csrf' });
    expect(refused.statusCode).toBe(403);
    expect(await api.current.queues.byName.verification.isPaused()).toBe(false);
    const ok = await request('POST', '/api/queues/verification/pause', { cookie, 'x-csrf-token': csrf }, { reason: 'with csrf' });
    expect(ok.statusCode).toBe(200);
    expect((await request('POST', '/api/queues/verification/resume', { cookie, 'x-csrf-token': csrf }, { reason: 'done' })).statusCode).toBe(200);
  });
});

/** GET /admin/login as a browser does: the form's double-submit token and the cookie that goes with it. */
const loginForm = async () => {
  const page = await request('GET', '/admin/login');
  const csrf = /name="csrf" value="([A-Za-z0-9_-]+)"/.exec(page.body)?.[1] ?? '';
  const cookie = /^(__Host-valhalla_login_csrf=[^;]+)/.exec(String(page.headers['set-cookie']))?.[1] ?? '';
  return { page, csrf, cookie };
};
const form = { 'content-type': 'application/x-www-form-urlencoded' };
const formBody = (fields: Record<string, string>) => new URLSearchParams(fields).toString();

describe('dashboard login', () => {
  it('shows a login form with a double-submit token in a __Host- cookie', async () => {
    const { page, csrf, cookie } = await loginForm();
    expect(page.statusCode).toBe(200);
    expect(page.headers['content-type']).toMatch(/text\/html/);
    expect(page.body).toMatch(/<form method="post" action="\/admin\/login">/);
    expect(csrf).toMatch(/^[A-Za-z0-9_-]{43}$/);
    expect(cookie).toBe(`__Host-valhalla_login_csrf=${csrf}`);
    expect(String(page.headers['set-cookie'])).toMatch(/Path=\/; .*HttpOnly; Secure; SameSite=Strict/);
  });

  it('sets an HttpOnly, Secure, SameSite=Strict session cookie that holds no token and opens the dashboard and /api', async () => {
    const { response, setCookie, cookie } = await login(BOB.token);
    expect(response.json()).toMatchObject({ actor: BOB.actor, role: 'operator', admin: false });
    expect(setCookie).toMatch(/^valhalla_session=[A-Za-z0-9_-]{43};/);
    expect(setCookie).toMatch(/HttpOnly/);
    expect(setCookie).toMatch(/Secure/);
    expect(setCookie).toMatch(/SameSite=Strict/);
    expect(setCookie).toMatch(/Path=\//);
    expect(setCookie).not.toContain(BOB.token);
    expect(response.body).not.toContain(BOB.token);

    expect((await request('GET', '/admin/queues', { cookie })).statusCode).toBe(200);
    expect((await request('GET', '/admin/queues/api/queues', { cookie })).statusCode).toBe(200);
    expect((await request('GET', '/api/governance/audit', { cookie })).statusCode).toBe(200);
  });

  it('accepts the HTML form with its token, redirects to the dashboard, and never echoes a wrong token', async () => {
    const { csrf, cookie } = await loginForm();
    const ok = await request('POST', '/admin/login', { ...form, cookie }, formBody({ token: ALICE.token, csrf }));
    expect(ok.statusCode).toBe(303);
    expect(ok.headers.location).toBe('/admin/queues');
    expect(String(ok.headers['set-cookie'])).toMatch(/^valhalla_session=/);

    const wrongToken = 'wrong-token-<script>alert(1)</script>';
    const refused = await request('POST', '/admin/login', { ...form, cookie }, formBody({ token: wrongToken, csrf }));
    expect(refused.statusCode).toBe(401);
    expect(String(refused.headers['set-cookie'])).not.toMatch(/valhalla_session=/);
    expect(refused.body).not.toContain('wrong-token');
    expect(refused.body).toContain('That token is not valid.');
    const json = await request('POST', '/admin/login', {}, { token: wrongToken });
    expect(json.statusCode).toBe(401);
    expect(json.json().error.code).toBe('UNAUTHENTICATED');
    expect(json.body).not.toContain('wrong-token');
    const app = await request('POST', '/admin/login', {}, { token: APP.token });
    expect(app.statusCode).toBe(403);
  });

  it('refuses login CSRF: a form post from another site, or without the form token, signs nobody in', async () => {
    const { csrf, cookie } = await loginForm();
    // The attacker's own reader token, posted by the attacker's page in the victim's browser.
    const attempts: { headers: Record<string, string>; body: Record<string, string> }[] = [
      { headers: { ...form, origin: 'https://evil.example', 'sec-fetch-site': 'cross-site' }, body: { token: READER.token } },
      { headers: { ...form, origin: 'https://evil.example' }, body: { token: READER.token } },
      { headers: { ...form, 'sec-fetch-site': 'same-site' }, body: { token: READER.token } },
      { headers: { ...form, origin: 'null' }, body: { token: READER.token } },
      // An old browser that sends neither header: no form token (a cross-site page cannot read it, and the
      // SameSite=Strict cookie does not travel with a cross-site post).
      { headers: form, body: { token: READER.token } },
      { headers: { ...form, cookie }, body: { token: READER.token } },
      { headers: form, body: { token: READER.token, csrf } },
      { headers: { ...form, cookie }, body: { token: READER.token, csrf: `${csrf.slice(1)}x` } },
    ];
    for (const attempt of attempts) {
      const response = await request('POST', '/admin/login', attempt.headers, formBody(attempt.body));
      expect(response.statusCode, JSON.stringify(attempt.headers)).toBe(403);
      expect(String(response.headers['set-cookie'])).not.toMatch(/valhalla_session=/);
    }
    const crossSite = await request('POST', '/admin/login', { ...form, origin: 'https://evil.example' }, formBody({ token: READER.token }));
    expect(crossSite.json().error).toMatchObject({ code: 'FORBIDDEN', details: [{ field: 'Origin', message: expect.stringContaining('evil.example') }] });
    const expired = await request('POST', '/admin/login', form, formBody({ token: READER.token }));
    expect(expired.body).toContain('This sign-in form expired or was not sent from this site.');
    // A JSON sign-in (scripts, the CLI) from another site's page is refused by its Origin as well.
    const json = await request('POST', '/admin/login', { origin: 'https://evil.example' }, { token: READER.token });
    expect(json.statusCode).toBe(403);
    // The same site's own page, with its token, is fine.
    const own = await request('POST', '/admin/login', { ...form, cookie, origin: 'http://localhost', 'sec-fetch-site': 'same-origin' }, formBody({ token: READER.token, csrf }));
    expect(own.statusCode).toBe(303);
  });

  it('revokes the session on logout with its CSRF token: the same cookie is refused afterwards', async () => {
    const { cookie, response: signedIn } = await login(ALICE.token);
    const csrf = signedIn.json().csrfToken as string;
    expect((await request('GET', '/admin/queues/api/queues', { cookie })).statusCode).toBe(200);
    const response = await request('POST', '/admin/logout', { cookie, 'x-csrf-token': csrf });
    expect(response.statusCode).toBe(204);
    expect(String(response.headers['set-cookie'])).toMatch(/^valhalla_session=;.*Expires=Thu, 01 Jan 1970/);
    expect((await request('GET', '/admin/queues/api/queues', { cookie })).statusCode).toBe(401);
    expect((await request('GET', '/api/governance/audit', { cookie })).statusCode).toBe(401);
    // A form logout carries the token as a field.
    const again = await login(ALICE.token);
    const formLogout = await request('POST', '/admin/logout', { ...form, cookie: again.cookie }, formBody({ csrf: again.response.json().csrfToken as string }));
    expect(formLogout.statusCode).toBe(303);
    expect((await request('GET', '/admin/queues/api/queues', { cookie: again.cookie })).statusCode).toBe(401);
  });

  it('refuses a forced logout: from another site, or without the session CSRF token, the session stays and the cookie is kept', async () => {
    const { cookie, response: signedIn } = await login(BOB.token);
    const csrf = signedIn.json().csrfToken as string;
    const forced: Record<string, string>[] = [
      { ...form, cookie, origin: 'https://evil.example', 'sec-fetch-site': 'cross-site' },
      { ...form, cookie, 'sec-fetch-site': 'cross-site' },
      { ...form, cookie },
      { cookie, 'x-csrf-token': `${csrf}x` },
      { cookie, origin: 'https://evil.example', 'x-csrf-token': csrf },
    ];
    for (const headers of forced) {
      const response = await request('POST', '/admin/logout', headers, headers['content-type'] === undefined ? undefined : '');
      expect(response.statusCode, JSON.stringify(headers)).toBe(403);
      expect(response.headers['set-cookie']).toBeUndefined();
    }
    expect((await request('GET', '/admin/queues/api/queues', { cookie })).statusCode).toBe(200);
    // Without a cookie there is nothing to end, and nothing is cleared.
    const anonymous = await request('POST', '/admin/logout', {});
    expect(anonymous.statusCode).toBe(204);
    expect(anonymous.headers['set-cookie']).toBeUndefined();
  });
});
