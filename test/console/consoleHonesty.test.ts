import { Queue } from 'bullmq';
import type { Browser, Page } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { JOB_NAMES, QUEUES } from '../../packages/contract/src/index.js';
import { startApiProcess, startWorkerProcess } from '../api/processes.js';
import { ALICE, BOB, TOKENS_ENV } from '../api/support.js';
import { useTestDatabase } from '../helpers/database.js';
import { track } from '../helpers/leaks.js';
import type { ManagedProcess } from '../helpers/processes.js';
import { testRedisUrl, uniqueQueuePrefix } from '../helpers/redis.js';
import { waitFor } from '../helpers/waitFor.js';
import { launchChromium, openConsole, screenshot, signIn, waitForText, type ConsolePage } from './browser.js';

/**
 * A console that never overstates: the primary action follows the state, results of earlier actions go away when the
 * state moves on, the chain status says exactly what was verified and when, the sign-in page says where tokens come
 * from, and text from the api is shown without its bidi controls applied. Each case runs its own api and worker on a
 * database of its own (the go-live path needs a fresh install), in Debian's chromium through playwright-core.
 */
const database = useTestDatabase({ perTest: true, poolSize: 2 });
const CAROL = { actor: 'carol', token: 'carol-reader-token-0123456789' } as const;
/** Unicode's bidi controls: none may reach the page's text. */
const BIDI_CONTROLS = /[\u061C\u200E\u200F\u202A-\u202E\u2066-\u2069]/;

let browser: Browser;
beforeAll(async () => {
  browser = await launchChromium();
  track(browser, { description: 'chromium', isOpen: () => browser.isConnected(), close: () => browser.close() });
});
afterAll(async () => {
  await browser?.close();
});

type Stack = {
  api: { process: ManagedProcess; url: string };
  env: { databaseUrl: string; redisUrl: string; prefix: string };
  startWorker: () => Promise<ManagedProcess>;
  pages: ConsolePage[];
  /** Closes the pages, then stops the worker and the api (each case ends with it: they are the case's own). */
  stop: () => Promise<void>;
};

/** An api (and, unless told otherwise, a worker) on this case's database and queue prefix. */
const startStack = async (options: { worker?: boolean } = {}): Promise<Stack> => {
  const prefix = uniqueQueuePrefix('console-honesty');
  const env = { databaseUrl: database.current.url, redisUrl: testRedisUrl(), prefix };
  const release = `honesty-${prefix.slice(-8)}`;
  const api = await startApiProcess({
    ...env,
    extra: { RELEASE: release, GOVERNANCE_TOKENS: TOKENS_ENV, READER_TOKENS: `${CAROL.actor}:${CAROL.token}`, RATE_LIMIT_PER_MINUTE: '10000' },
  });
  const workers: ManagedProcess[] = [];
  const stack: Stack = {
    api,
    env,
    pages: [],
    startWorker: async () => {
      const worker = startWorkerProcess({ ...env, extra: { RELEASE: release, API_URL: api.url } });
      workers.push(worker);
      await worker.waitForOutput(/worker ready/, 30_000);
      return worker;
    },
    stop: async () => {
      await Promise.all(stack.pages.map((opened) => opened.context.close()));
      await Promise.all([...workers.map((worker) => worker.stop()), api.process.stop()]);
    },
  };
  if (options.worker !== false) await stack.startWorker();
  return stack;
};

const open = async (stack: Stack, token: string): Promise<Page> => {
  const opened = await openConsole(browser, stack.api.url);
  stack.pages.push(opened);
  await signIn(opened.page, token);
  await waitForText(opened.page, 'connection', /live updates/);
  return opened.page;
};

/** A change or verification through the API as alice (or another token), waited for until its job ended. */
const throughApi = async (stack: Stack, path: string, body: object, token: string = ALICE.token): Promise<void> => {
  const post = await fetch(`${stack.api.url}${path}`, {
    method: 'POST',
    headers: { authorization: `Bearer ${token}`, 'content-type': 'application/json' },
    body: JSON.stringify(body),
  });
  expect([200, 202], await post.clone().text()).toContain(post.status);
  const { jobId } = (await post.json()) as { jobId: string };
  await waitFor(async () => {
    const job = (await (await fetch(`${stack.api.url}/api/jobs/${jobId}`, { headers: { authorization: `Bearer ${ALICE.token}` } })).json()) as { state: string };
    return job.state === 'completed' || job.state === 'failed';
  }, { timeoutMs: 20_000, description: `job ${jobId} to end` });
};

/** The control buttons of the overview with their tone (primary, secondary, danger). */
const controls = async (page: Page): Promise<Record<string, string>> =>
  Object.fromEntries(
    await page
      .locator('[data-testid^="control-"]')
      .evaluateAll((buttons) => buttons.map((button) => [button.getAttribute('data-testid')?.slice('control-'.length) ?? '', button.getAttribute('class') ?? ''])),
  ) as Record<string, string>;
const primary = async (page: Page): Promise<string[]> =>
  Object.entries(await controls(page))
    .filter(([, tone]) => tone === 'primary')
    .map(([id]) => id);

/** Waits until the overview's primary action is `expected` (none: []). */
const waitForPrimary = async (page: Page, expected: string[], description: string) =>
  waitFor(async () => JSON.stringify(await primary(page)) === JSON.stringify(expected), { timeoutMs: 15_000, description: `${description}: primary ${JSON.stringify(expected)}` }).catch(async (error: unknown) => {
    throw new Error(`${error instanceof Error ? error.message : String(error)}; controls: ${JSON.stringify(await controls(page))}`);
  });

const clickControl = async (page: Page, id: string, reason: string, outcome: RegExp) => {
  await page.locator('#change-reason').fill(reason);
  await page.getByTestId(`control-${id}`).click();
  await waitForText(page, 'change-status', outcome, 20_000);
};

describe('a console that never overstates', () => {
  it('makes the next unmet precondition the primary action, never Enable until all are met, and says what Enable needs', async () => {
    // No worker yet: no verification has run, so every precondition is unmet.
    const stack = await startStack({ worker: false });
    try {
      const page = await open(stack, ALICE.token);
      await page.getByTestId('check-verification').waitFor();
      await waitForText(page, 'check-verification', /no run for head/);
      await waitForPrimary(page, ['verify'], 'fresh install, nothing verified');
      expect((await controls(page)).enable).toBe('secondary');
      await waitForText(
        page,
        'changes-guidance',
        /^Enable go-live needs a passed verification of the current migration head, the backend marked complete and the kill switch released: the api refuses it until then\.$/,
      );
      // The Enable button is described by that sentence, for a screen reader too.
      expect(await page.getByTestId('control-enable').getAttribute('aria-describedby')).toBe('changes-guidance');
      await screenshot(page, 'honesty-01-nothing-verified');

      // The worker starts and verifies its release: the next step is marking the backend complete.
      await stack.startWorker();
      await waitForPrimary(page, ['backend-complete'], 'verified');
      await waitForText(page, 'changes-guidance', /needs the backend marked complete and the kill switch released:/);

      await clickControl(page, 'backend-complete', 'backend complete', /Mark backend complete: applied\.$/);
      await waitForPrimary(page, ['release'], 'backend complete');
      await waitForText(page, 'changes-guidance', /^Enable go-live needs the kill switch released: the api refuses it until then\.$/);
      expect((await controls(page)).enable).toBe('secondary');

      await clickControl(page, 'release', 'deploy checked', /Release kill switch: applied\.$/);
      await waitForPrimary(page, ['enable'], 'every precondition met');
      await waitForText(page, 'changes-guidance', /Every precondition is met: enabling go-live makes the service LIVE\./);
      await screenshot(page, 'honesty-02-ready');

      await clickControl(page, 'enable', 'launch', /Enable go-live: applied\.$/);
      await waitForText(page, 'live-status', /^LIVE$/);
      // Live: nothing is pushed; disabling is the danger action.
      await waitForPrimary(page, [], 'live');
      expect((await controls(page)).disable).toBe('danger');
      expect(await page.getByTestId('changes-guidance').count()).toBe(0);
      // The state's version is named for what it is; "version" means the backend's version.
      await waitForText(page, 'last-change', /· audit entry #\d+$/);
      expect(await page.getByTestId('last-change').textContent()).not.toMatch(/version/i);
      await screenshot(page, 'honesty-03-live');

      // Stopped by the kill switch while go-live stays enabled: Release would make it live again, and says so.
      await throughApi(stack, '/api/governance/kill-switch', { engaged: true, reason: 'incident' });
      await waitForText(page, 'live-status', /^NOT LIVE$/);
      await waitForPrimary(page, [], 'engaged while enabled');
      expect((await controls(page)).release).toBe('secondary');
      await waitForText(page, 'changes-guidance', /^Go-live is enabled: releasing the kill switch makes the service LIVE\.$/);
      expect(await page.getByTestId('control-release').getAttribute('aria-describedby')).toBe('changes-guidance');
      // The deploy a worker runs is called a deploy; "release" is what the kill switch does.
      await page.getByRole('link', { name: 'Migrations, workers, queues' }).click();
      await waitForText(page, 'workers-alive', /^1 alive$/);
      expect(await page.getByRole('columnheader', { name: 'Deploy' }).count()).toBe(1);
      expect(await page.getByRole('columnheader', { name: 'Release' }).count()).toBe(0);
    } finally {
      await stack.stop();
    }
  }, 90_000);

  it('clears the result of an earlier action once the state moves on', async () => {
    const stack = await startStack();
    try {
      const page = await open(stack, ALICE.token);
      await clickControl(page, 'release', 'drill: release', /Release kill switch: applied\.$/);
      // It stays while it is true of the state on screen.
      await waitForText(page, 'kill-switch-state', /released/);
      expect(await page.getByTestId('change-status').textContent()).toBe('Release kill switch: applied.');

      // An engage from the banner: the release's sentence is about a state that is gone.
      await page.locator('#engage-reason').fill('drill: engage');
      await page.getByRole('button', { name: 'Engage kill switch' }).click();
      await waitForText(page, 'engage-status', /^Engage kill switch: applied\.$/, 15_000);
      await waitForText(page, 'change-status', /^$/);

      // A change by another operator, elsewhere: the engage's sentence goes too.
      await throughApi(stack, '/api/governance/system-metadata', { backend_complete: true, reason: 'bob marks it' }, BOB.token);
      await waitForText(page, 'check-backend', /since/);
      await waitForText(page, 'engage-status', /^$/);

      // A refusal stays until the state moves on, then goes as well.
      await clickControl(page, 'enable', 'too early', /Enable go-live: PRECONDITION_FAILED .*kill_switch_released/);
      await throughApi(stack, '/api/governance/kill-switch', { engaged: false, reason: 'bob releases' }, BOB.token);
      await waitForText(page, 'change-status', /^$/);
    } finally {
      await stack.stop();
    }
  }, 60_000);

  it('says exactly which rows the latest chain check covered and when the whole chain was last read, and runs a full check on request', async () => {
    const stack = await startStack();
    const verification = new Queue(QUEUES.verification, { prefix: stack.env.prefix, connection: { url: stack.env.redisUrl } });
    try {
      // The worker's startup verification reads the whole chain (waited for: a run stored after the incremental one
      // below would be the latest). Two changes, then a scheduled-style incremental check (what the watchdog
      // enqueues), added straight to the queue as any producer may.
      await waitFor(async () => {
        const status = (await (await fetch(`${stack.api.url}/api/governance/runbook/status`, { headers: { authorization: `Bearer ${ALICE.token}` } })).json()) as {
          last_verification: unknown;
        };
        return status.last_verification !== null;
      }, { timeoutMs: 30_000, description: 'the startup verification to be stored' });
      await throughApi(stack, '/api/governance/kill-switch', { engaged: false, reason: 'first change' });
      await throughApi(stack, '/api/governance/system-metadata', { backend_complete: true, reason: 'second change' });
      const incremental = await verification.add(JOB_NAMES.migrationVerify, { actor: 'system:watchdog', auditCheck: 'incremental' }, { jobId: 'honesty-incremental' });
      await waitFor(async () => (await verification.getJobState(incremental.id as string)) === 'completed', { timeoutMs: 20_000, description: 'the incremental check' });

      const page = await open(stack, ALICE.token);
      await page.getByRole('link', { name: 'Audit log', exact: true }).click();
      await waitForText(page, 'chain-status', /^Hash chain: intact — incremental: rows (\d+)–(\d+) after checkpoint \d+ \(row \d+\); checked \S+ \S+ UTC \(verification run #\d+\)\.$/);
      const latest = (await page.getByTestId('chain-status').textContent()) ?? '';
      const [, first, last, afterRow] = /rows (\d+)–(\d+) after checkpoint \d+ \(row (\d+)\)/.exec(latest) ?? [];
      expect(Number(first)).toBe(Number(afterRow) + 1);
      expect(Number(last)).toBeGreaterThanOrEqual(Number(first));
      // The last full check: the startup verification, which read rows 1 to the checkpoint the incremental one started after.
      await waitForText(page, 'chain-full-check', new RegExp(`^Last full check: intact — full: rows 1–${afterRow}; \\S+ \\S+ UTC \\(verification run #\\d+\\)\\.$`));
      await screenshot(page, 'honesty-04-audit-incremental');

      await page.getByTestId('run-full-check').click();
      await waitForText(page, 'full-check-status', /^Full check: passed\.$/, 30_000);
      await waitForText(page, 'chain-status', new RegExp(`^Hash chain: intact — full: rows 1–(\\d+); checked`), 10_000);
      await waitForText(page, 'chain-full-check', /^Last full check: this one\.$/, 10_000);

      // A reader sees the status, not the button.
      const reader = await open(stack, CAROL.token);
      await reader.getByRole('link', { name: 'Audit log', exact: true }).click();
      await waitForText(reader, 'chain-status', /intact/);
      expect(await reader.getByTestId('run-full-check').count()).toBe(0);
    } finally {
      await verification.close();
      await stack.stop();
    }
  }, 60_000);

  it('says on the sign-in page where tokens come from, and takes the actor:token pair as it is written there', async () => {
    const stack = await startStack({ worker: false });
    try {
      const opened = await openConsole(browser, stack.api.url);
      stack.pages.push(opened);
      const { page } = opened;
      await page.getByTestId('token-help').waitFor();
      const help = (await page.getByTestId('token-help').textContent()) ?? '';
      for (const needed of ['GOVERNANCE_TOKENS', 'READER_TOKENS', 'actor:token', 'npm run dev', '.dev/dev-token', 'npx valhalla token --actor']) expect(help).toContain(needed);
      expect(await page.locator('#token').getAttribute('aria-describedby')).toBe('token-help');
      await screenshot(page, 'honesty-05-sign-in');
      await signIn(page, `${BOB.actor}:${BOB.token}`);
      await waitForText(page, 'who', /^bob · operator$/);
    } finally {
      await stack.stop();
    }
  }, 60_000);

  it('shows bidi controls in text from the api as visible codes, never applied, on every screen', async () => {
    const stack = await startStack();
    try {
      // "‮evil‬ reason" displayed as "live reason" before; an isolate and a mark in another field.
      await throughApi(stack, '/api/governance/kill-switch', { engaged: false, reason: '\u202Eevil\u202C reason' });
      await throughApi(stack, '/api/governance/system-metadata', { notes: 'a \u200Fmark \u2066isolated\u2069', reason: 'metadata \u2067rli\u2069' });
      await throughApi(stack, '/api/governance/kill-switch', { engaged: true, reason: 'back \u202Dlro\u202C' });
      const page = await open(stack, ALICE.token);
      await waitForText(page, 'last-change', /: back \[U\+202D\]lro\[U\+202C\] · audit entry #\d+$/);
      const bodyText = () => page.evaluate<string>('document.body.innerText');
      expect(await bodyText()).not.toMatch(BIDI_CONTROLS);

      await page.getByRole('link', { name: 'Audit log', exact: true }).click();
      await waitForText(page, 'audit-table', /\[U\+202E\]evil\[U\+202C\] reason/);
      const table = (await page.getByTestId('audit-table').textContent()) ?? '';
      expect(table).toContain('metadata [U+2067]rli[U+2069]');
      expect(table).toContain('[U+2066]isolated[U+2069]');
      expect(table).toContain('a [U+200F]mark');
      expect(await bodyText()).not.toMatch(BIDI_CONTROLS);
      await screenshot(page, 'honesty-06-bidi');
      // The record itself keeps what was written: the api still answers the exact text.
      const audit = (await (await fetch(`${stack.api.url}/api/governance/audit?limit=50`, { headers: { authorization: `Bearer ${ALICE.token}` } })).json()) as {
        items: { reason: string }[];
      };
      expect(audit.items.map((item) => item.reason)).toContain('\u202Eevil\u202C reason');

      for (const [link, ready] of [
        ['Verifications', 'verification-run'],
        ['Migrations, workers, queues', 'workers-alive'],
        ['Overview', 'check-verification'],
      ] as const) {
        await page.getByRole('link', { name: link, exact: true }).click();
        await page.getByTestId(ready).first().waitFor();
        expect(await bodyText(), link).not.toMatch(BIDI_CONTROLS);
      }
    } finally {
      await stack.stop();
    }
  }, 60_000);
});
