import { writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import type { Browser } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ALICE, BOB, TOKENS_ENV } from '../api/support.js';
import { startApiProcess, startWorkerProcess } from '../api/processes.js';
import { useTestDatabase } from '../helpers/database.js';
import { track } from '../helpers/leaks.js';
import { waitFor } from '../helpers/waitFor.js';
import type { ManagedProcess } from '../helpers/processes.js';
import { testRedisUrl, uniqueQueuePrefix } from '../helpers/redis.js';
import { SCREENSHOT_DIR, launchChromium, openConsole, screenshot, seriousViolations, signIn, waitForText, type ConsolePage } from './browser.js';

/**
 * The console in a real browser (Debian's chromium through playwright-core) against the built api and worker
 * processes, on this file's own database and queue prefix. The cases share those processes (starting them per case
 * would cost seconds), so none relies on what another left: each makes, through the API, the changes it needs to see
 * (none enables go-live, which the case that takes the install live needs disabled).
 */
const database = useTestDatabase({ poolSize: 2 });
/** The four-eyes test runs its own api and worker with APPROVALS_REQUIRED=2 on a database of its own. */
const fourEyesDatabase = useTestDatabase({ poolSize: 2 });
const CAROL = { actor: 'carol', token: 'carol-reader-token-0123456789' } as const;
/** A change made in one browser must be on the other's screen within this long, without a reload. */
const PROPAGATION_MS = 1_000;

let browser: Browser;
let api: { process: ManagedProcess; url: string };
let worker: ManagedProcess;
const pages: ConsolePage[] = [];

const open = async (token: string) => {
  const opened = await openConsole(browser, api.url);
  pages.push(opened);
  await signIn(opened.page, token);
  return opened;
};

/** Submits a change (or a verification) through the API as alice and waits until its job completed (an engage or a disable is applied in the request). */
const settledThroughApi = async (path: string, body: object): Promise<void> => {
  const post = await fetch(`${api.url}${path}`, {
    method: 'POST',
    headers: { authorization: `Bearer ${ALICE.token}`, 'content-type': 'application/json' },
    body: JSON.stringify(body),
  });
  expect([200, 202]).toContain(post.status);
  const { jobId } = (await post.json()) as { jobId: string };
  await waitFor(async () => {
    const job = (await (await fetch(`${api.url}/api/jobs/${jobId}`, { headers: { authorization: `Bearer ${ALICE.token}` } })).json()) as { state: string };
    return job.state === 'completed';
  }, { timeoutMs: 20_000, description: `job ${jobId} to complete` });
};

beforeAll(async () => {
  const prefix = uniqueQueuePrefix('console');
  const env = { databaseUrl: database.current.url, redisUrl: testRedisUrl(), prefix };
  const release = `console-${prefix.slice(-8)}`;
  [api, browser] = await Promise.all([
    startApiProcess({ ...env, extra: { RELEASE: release, GOVERNANCE_TOKENS: TOKENS_ENV, READER_TOKENS: `${CAROL.actor}:${CAROL.token}`, RATE_LIMIT_PER_MINUTE: '10000' } }),
    launchChromium(),
  ]);
  track(browser, { description: 'chromium', isOpen: () => browser.isConnected(), close: () => browser.close() });
  worker = startWorkerProcess({ ...env, extra: { RELEASE: release, API_URL: api.url } });
  await worker.waitForOutput(/worker ready/, 30_000);
});

afterAll(async () => {
  await browser?.close();
  await Promise.all([worker?.stop(), api?.process.stop()]);
});

describe('the go-live console in a browser', () => {
  it('serves the console at /console/ with a CSP and no inline code, and redirects / to it', async () => {
    const root = await fetch(`${api.url}/`, { redirect: 'manual' });
    expect(root.status).toBe(302);
    expect(root.headers.get('location')).toBe('/console/');
    const index = await fetch(`${api.url}/console/`);
    expect(index.status).toBe(200);
    expect(index.headers.get('content-type')).toBe('text/html; charset=utf-8');
    expect(index.headers.get('cache-control')).toBe('no-cache');
    const csp = index.headers.get('content-security-policy') ?? '';
    expect(csp).toMatch(/script-src 'self'/);
    expect(csp).not.toMatch(/unsafe-inline|unsafe-eval/);
    const html = await index.text();
    expect(html).not.toMatch(/<script(?![^>]*\bsrc=)[^>]*>/);
    expect(html).not.toMatch(/<style|style=/);
    const script = /src="(\/console\/assets\/[^"]+\.js)"/.exec(html)?.[1];
    expect(script).toBeDefined();
    const asset = await fetch(`${api.url}${script}`);
    expect(asset.headers.get('content-type')).toBe('text/javascript; charset=utf-8');
    expect(asset.headers.get('cache-control')).toMatch(/immutable/);
    const again = await fetch(`${api.url}${script}`, { headers: { 'if-none-match': asset.headers.get('etag') ?? '' } });
    expect(again.status).toBe(304);
    const missing = await fetch(`${api.url}/console/assets/nope.js`);
    expect(missing.status).toBe(404);
    expect(((await missing.json()) as { error: { code: string } }).error.code).toBe('NOT_FOUND');
  });

  it(
    'an operator takes a fresh install live, a second browser follows every change within 1 s, then the kill switch is engaged',
    async () => {
      const first = await open(ALICE.token);
      const second = await open(BOB.token);
      const { page } = first;
      // Every write the console makes is cookie-authenticated and carries the session's CSRF token; no bearer token.
      const writes: { url: string; csrf: string | undefined; authorization: string | undefined }[] = [];
      page.on('request', (request) => {
        if (request.method() !== 'GET') writes.push({ url: request.url(), csrf: request.headers()['x-csrf-token'], authorization: request.headers().authorization });
      });
      await waitForText(page, 'live-status', /^NOT LIVE$/);
      await waitForText(page, 'kill-switch-state', /ENGAGED/);
      await waitForText(second.page, 'connection', /live updates/);
      await screenshot(page, '01-overview-fresh');

      /** Makes a change in the first browser and measures when the second shows it. */
      const change = async (button: string, reason: string, testId: string, shown: RegExp) => {
        await page.locator('#change-reason').fill(reason);
        await page.getByRole('button', { name: button }).click();
        await waitForText(page, 'change-status', /: (applied|unchanged)\.$/, 15_000);
        const applied = Date.now();
        await waitForText(second.page, testId, shown, PROPAGATION_MS);
        return Date.now() - applied;
      };

      // Too early: the state rules refuse, and the console says why with the code.
      await page.locator('#change-reason').fill('too early');
      await page.getByRole('button', { name: 'Enable go-live' }).click();
      await waitForText(page, 'change-status', /PRECONDITION_FAILED.*kill_switch_released/, 15_000);

      const delays = [
        await change('Release kill switch', 'deploy 42 checked', 'kill-switch-state', /released/),
        await change('Mark backend complete', 'backend complete', 'check-backend', /since/),
      ];
      await page.getByRole('button', { name: 'Run verification' }).click();
      await waitForText(page, 'change-status', /Verification: passed\./, 20_000);
      await waitForText(page, 'check-verification', /passed/, 10_000);
      delays.push(await change('Enable go-live', 'launch', 'live-status', /^LIVE$/));
      expect(await page.getByTestId('check-kill-switch').getAttribute('data-met')).toBe('true');
      expect(await page.getByTestId('check-backend').getAttribute('data-met')).toBe('true');
      expect(await page.getByTestId('check-verification').getAttribute('data-met')).toBe('true');
      await waitForText(second.page, 'last-change', /alice.*launch/);
      await screenshot(page, '02-overview-live');

      // The engage control is on every screen: here from the audit screen, in one step.
      await page.getByRole('link', { name: 'Audit log', exact: true }).click();
      await page.locator('#engage-reason').fill('error rate above 5 %');
      await page.getByRole('button', { name: 'Engage kill switch' }).click();
      await waitForText(page, 'engage-status', /applied\./, 15_000);
      const engaged = Date.now();
      await waitForText(second.page, 'live-status', /^NOT LIVE$/, PROPAGATION_MS);
      delays.push(Date.now() - engaged);
      await waitForText(second.page, 'last-change', /alice.*error rate above 5 %/);
      await writeFile(join(SCREENSHOT_DIR, 'propagation-ms.json'), `${JSON.stringify({ delays })}\n`);
      expect(Math.max(...delays)).toBeLessThan(PROPAGATION_MS);

      // The audit timeline shows each step with who, why and before → after, newest first.
      await waitForText(page, 'audit-table', /kill_switch\.engage/);
      const rows = page.getByTestId('audit-row');
      const actions = await rows.evaluateAll((elements) => elements.map((element) => element.getAttribute('data-action')));
      expect(actions.slice(0, 5)).toEqual(['kill_switch.engage', 'go_live.enable', 'metadata.update', 'kill_switch.release', 'go_live.enable']);
      const newest = (await rows.first().textContent()) ?? '';
      expect(newest).toMatch(/alice/);
      expect(newest).toMatch(/error rate above 5 %/);
      expect(newest).toMatch(/kill_switch_engaged: false → true/);
      expect(await rows.nth(4).getAttribute('data-outcome')).toBe('rejected');
      await waitForText(page, 'chain-status', /intact/);
      await screenshot(page, '03-audit');

      // Filter: only rejected entries.
      await page.getByLabel('Outcome').selectOption('rejected');
      await page.getByRole('button', { name: 'Apply filter' }).click();
      await waitFor(async () => {
        const outcomes = await page.getByTestId('audit-row').evaluateAll((rows) => rows.map((row) => row.getAttribute('data-outcome')));
        return outcomes.length > 0 && outcomes.every((outcome) => outcome === 'rejected') ? outcomes : false;
      }, { description: 'only rejected entries in the filtered audit log' }).then((outcomes) => expect(outcomes).toEqual(['rejected']));

      await page.getByRole('link', { name: 'Verifications' }).click();
      await page.getByTestId('verification-run').first().waitFor();
      expect(await page.getByTestId('verification-run').first().textContent()).toMatch(/passed/);
      await screenshot(page, '04-verifications');

      await page.getByRole('link', { name: 'Migrations, workers, queues' }).click();
      await waitForText(page, 'workers-alive', /^1 alive$/);
      await waitForText(page, 'queue-depth', /governance/);
      await screenshot(page, '05-system');

      for (const opened of [first, second]) expect(opened.cspViolations).toEqual([]);
      expect(writes.length).toBeGreaterThanOrEqual(6);
      for (const write of writes) {
        expect(write.csrf, write.url).toMatch(/^\S{16,}$/);
        expect(write.authorization, write.url).toBeUndefined();
      }
    },
    60_000,
  );

  it('a reader sees the state, the checklist and the audit log, and no action control', async () => {
    // An engage (applied or unchanged, audited either way) for the audit log to show.
    await settledThroughApi('/api/governance/kill-switch', { engaged: true, reason: 'for the reader' });
    const { page, cspViolations } = await open(CAROL.token);
    await waitForText(page, 'who', /carol · reader/);
    await waitForText(page, 'live-status', /^NOT LIVE$/);
    await page.getByTestId('check-verification').waitFor();
    const controls = /engage|release|enable|disable|mark|verification|retry|approve|reject/i;
    const buttons = await page.getByRole('button').allTextContents();
    expect(buttons.filter((text) => controls.test(text))).toEqual([]);
    expect(await page.locator('#engage-reason, #change-reason').count()).toBe(0);
    await page.getByRole('link', { name: 'Audit log', exact: true }).click();
    await waitForText(page, 'audit-table', /kill_switch\.engage/);
    await page.getByRole('link', { name: 'Migrations, workers, queues' }).click();
    await waitForText(page, 'workers-alive', /alive/);
    expect((await page.getByRole('button').allTextContents()).filter((text) => controls.test(text))).toEqual([]);
    await screenshot(page, '06-reader');
    expect(cspViolations).toEqual([]);

    // Sign out revokes the session: after a reload the page asks for a token again.
    await page.getByRole('button', { name: 'Sign out' }).click();
    await page.locator('#token').waitFor();
    await page.reload();
    await page.locator('#token').waitFor();
    expect(await page.getByTestId('who').count()).toBe(0);
  });

  it('engages the kill switch with the keyboard alone, and refuses an empty reason', async () => {
    const { page } = await open(BOB.token);
    await waitForText(page, 'connection', /live updates/);
    // Release the kill switch (through the API) so that the engage applies, whatever state the other cases left.
    const released = await fetch(`${api.url}/api/governance/kill-switch`, {
      method: 'POST',
      headers: { authorization: `Bearer ${ALICE.token}`, 'content-type': 'application/json' },
      body: JSON.stringify({ engaged: false, reason: 'drill setup' }),
    });
    expect(released.status).toBe(202);
    await waitForText(page, 'kill-switch-state', /released/, 15_000);
    // Tab from the top of the page to the reason field: it is among the first stops, before the screens' content.
    await page.keyboard.press('Tab');
    let stops = 1;
    while ((await page.evaluate('document.activeElement?.id')) !== 'engage-reason') {
      expect(stops).toBeLessThan(8);
      await page.keyboard.press('Tab');
      stops += 1;
    }
    // Enter with no reason: the browser refuses the form, nothing is sent.
    await page.keyboard.press('Enter');
    expect(await page.evaluate('document.activeElement?.id')).toBe('engage-reason');
    expect(await page.getByTestId('engage-status').textContent()).toBe('');
    await page.keyboard.type('keyboard drill');
    await page.keyboard.press('Tab');
    expect(await page.evaluate('document.activeElement?.textContent')).toBe('Engage kill switch');
    expect(await page.evaluate("getComputedStyle(document.activeElement).outlineStyle")).not.toBe('none');
    await page.keyboard.press('Enter');
    await waitForText(page, 'engage-status', /Engage kill switch: applied\./, 15_000);
    await waitForText(page, 'kill-switch-state', /ENGAGED/);
    await waitForText(page, 'last-change', /bob.*keyboard drill/);
  });

  it('axe-core finds no serious or critical accessibility violation on the sign-in page and on each screen', async () => {
    // Each screen checked with content: an audit entry and a verification run.
    await settledThroughApi('/api/governance/kill-switch', { engaged: true, reason: 'for the audit screen' });
    await settledThroughApi('/api/governance/verify', {});
    const signInPage = await openConsole(browser, api.url);
    pages.push(signInPage);
    await signInPage.page.locator('#token').waitFor();
    const found: Record<string, string[]> = { 'sign-in': (await seriousViolations(signInPage.page)).map((v) => `${v.id}: ${v.help}`) };
    const { page } = await open(ALICE.token);
    for (const [screen, ready] of [
      ['overview', 'check-verification'],
      ['audit', 'audit-row'],
      ['verifications', 'verification-run'],
      ['system', 'workers-alive'],
    ] as const) {
      await page.goto(`${api.url}/console/#/${screen}`);
      await page.getByTestId(ready).first().waitFor();
      found[screen] = (await seriousViolations(page)).map((v) => `${v.id}: ${v.help} (${v.nodes.map((n) => n.target.join(' ')).join(', ')})`);
    }
    expect(found).toEqual({ 'sign-in': [], overview: [], audit: [], verifications: [], system: [] });
  });

  afterAll(async () => {
    await Promise.all(pages.map((opened) => opened.context.close()));
  });
});

describe('four-eyes in two browsers (APPROVALS_REQUIRED=2)', () => {
  it(
    'a release asked for by one operator waits for a second operator, who approves it in another browser',
    async () => {
      const prefix = uniqueQueuePrefix('console-4eyes');
      const env = { databaseUrl: fourEyesDatabase.current.url, redisUrl: testRedisUrl(), prefix };
      const fourEyesApi = await startApiProcess({ ...env, extra: { APPROVALS_REQUIRED: '2', RATE_LIMIT_PER_MINUTE: '10000' } });
      const fourEyesWorker = startWorkerProcess({ ...env, extra: { APPROVALS_REQUIRED: '2' } });
      const opened: ConsolePage[] = [];
      try {
        await fourEyesWorker.waitForOutput(/worker ready/, 30_000);
        const signedIn = async (token: string) => {
          const consolePage = await openConsole(browser, fourEyesApi.url);
          opened.push(consolePage);
          await signIn(consolePage.page, token);
          await waitForText(consolePage.page, 'connection', /live updates/);
          return consolePage.page;
        };
        const [requester, approver] = [await signedIn(ALICE.token), await signedIn(BOB.token)];

        await requester.locator('#change-reason').fill('deploy 43 checked');
        await requester.getByRole('button', { name: 'Release kill switch' }).click();
        await waitForText(requester, 'change-status', /change request \S+ waits for approval/);
        // The requester cannot approve their own request; the state has not moved.
        const own = requester.getByTestId('change-request');
        await own.waitFor({ timeout: 10_000 });
        expect(await own.getByRole('button', { name: 'Approve' }).count()).toBe(0);
        expect(await requester.getByTestId('kill-switch-state').textContent()).toBe('ENGAGED');

        const request = approver.getByTestId('change-request');
        await request.waitFor({ timeout: 10_000 });
        expect(await request.textContent()).toMatch(/kill_switch\.release requested by alice.*deploy 43 checked.*1 of 2 approvals/);
        await screenshot(approver, '07-four-eyes-request');
        await request.getByLabel('Reason for approving or rejecting').fill('checked the deploy too');
        await request.getByRole('button', { name: 'Approve' }).click();

        // Applied as the requester's change, seen by both without a reload.
        await waitForText(approver, 'kill-switch-state', /released/, 15_000);
        await waitForText(requester, 'kill-switch-state', /released/, 15_000);
        await waitForText(requester, 'last-change', /alice.*deploy 43 checked/);
        await requester.getByRole('link', { name: 'Audit log', exact: true }).click();
        await waitForText(requester, 'audit-table', /change_request\.approved/);
        const actions = await requester.getByTestId('audit-row').evaluateAll((rows) => rows.map((row) => row.getAttribute('data-action')));
        expect(actions).toEqual(expect.arrayContaining(['kill_switch.release', 'change_request.approved', 'change_request.requested']));
        expect(await requester.getByTestId('audit-row').filter({ hasText: 'change_request.approved' }).textContent()).toMatch(/bob/);
      } finally {
        await Promise.all(opened.map((consolePage) => consolePage.context.close()));
        await Promise.all([fourEyesWorker.stop(), fourEyesApi.process.stop()]);
      }
    },
    60_000,
  );
});
