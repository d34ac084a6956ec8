import type { Browser } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ALICE, TOKENS_ENV } from '../api/support.js';
import { startApiProcess, startWorkerProcess } from '../api/processes.js';
import { useTestDatabase } from '../helpers/database.js';
import { track } from '../helpers/leaks.js';
import type { ManagedProcess } from '../helpers/processes.js';
import { testRedisUrl, uniqueQueuePrefix } from '../helpers/redis.js';
import { waitFor } from '../helpers/waitFor.js';
import { NOTIFY_ENV } from '../notifications/support/harness.js';
import { startWebhookReceiver, type WebhookReceiver } from '../notifications/support/receiver.js';
import { launchChromium, openConsole, screenshot, seriousViolations, signIn, waitForText } from './browser.js';

/**
 * The console's Notifications screen in a real browser against the built api and worker: an admin creates a
 * webhook (its secret shown once), sees deliveries succeed, sees a dead letter and resumes it; a reader sees the
 * status and no controls.
 */
const database = useTestDatabase({ poolSize: 2 });
const CAROL = { actor: 'carol', token: 'carol-reader-token-0123456789' } as const;
const ENV = { ...NOTIFY_ENV, NOTIFICATION_DEAD_LETTER_AFTER_SECONDS: '1', RATE_LIMIT_PER_MINUTE: '10000' };

let browser: Browser;
let api: { process: ManagedProcess; url: string };
let worker: ManagedProcess;
let receiver: WebhookReceiver;

const engage = async (engaged: boolean) => {
  const response = await fetch(`${api.url}/api/governance/kill-switch`, {
    method: 'POST',
    headers: { authorization: `Bearer ${ALICE.token}`, 'content-type': 'application/json' },
    body: JSON.stringify({ engaged, reason: engaged ? 'console notification test' : 'released for the test' }),
  });
  expect([200, 202]).toContain(response.status);
};

beforeAll(async () => {
  const prefix = uniqueQueuePrefix('console-notify');
  const env = { databaseUrl: database.current.url, redisUrl: testRedisUrl(), prefix };
  [api, browser, receiver] = await Promise.all([
    startApiProcess({ ...env, extra: { ...ENV, GOVERNANCE_TOKENS: TOKENS_ENV, READER_TOKENS: `${CAROL.actor}:${CAROL.token}` } }),
    launchChromium(),
    startWebhookReceiver(),
  ]);
  track(browser, { description: 'chromium', isOpen: () => browser.isConnected(), close: () => browser.close() });
  worker = startWorkerProcess({ ...env, extra: ENV });
  await worker.waitForOutput(/worker ready/, 30_000);
});

afterAll(async () => {
  await browser?.close();
  await receiver?.close();
  await Promise.all([worker?.stop(), api?.process.stop()]);
});

describe('the Notifications screen', () => {
  it('an admin creates a webhook (secret shown once), sees deliveries, a dead letter, and resumes it; a reader only sees', async () => {
    const admin = await openConsole(browser, api.url);
    await signIn(admin.page, ALICE.token);
    const { page } = admin;
    await page.goto(`${api.url}/console/#/notifications`);
    await page.getByRole('heading', { name: 'Notification subscriptions' }).waitFor();

    await page.locator('#subscription-url').fill(receiver.url);
    await page.locator('#subscription-filter').selectOption('safety');
    await page.locator('#subscription-description').fill('on-call bridge');
    await page.locator('#subscription-reason').fill('page the on-call');
    await page.getByRole('button', { name: 'Create subscription' }).click();
    await waitForText(page, 'subscription-created', /signing secret, shown only now/);
    const secret = (await page.getByTestId('signing-secret').textContent()) ?? '';
    expect(secret).toMatch(/^whsec_/);
    receiver.setSecret(secret);
    await waitForText(page, 'subscriptions', /Kill switch engages and releases · on-call bridge/);
    await waitForText(page, 'subscription-state', /^active$/);

    await engage(false);
    await waitFor(() => receiver.processed().length >= 1, { timeoutMs: 20_000, description: 'the release delivered' });
    await waitForText(page, 'subscription-backlog', /^0$/, 15_000);
    await screenshot(page, 'notifications-active');

    await receiver.setMode('error500');
    await engage(true);
    await waitForText(page, 'subscription-state', /^dead-lettered$/, 20_000);
    await waitForText(page, 'subscriptions', /HTTP_STATUS/);
    expect(await seriousViolations(page)).toEqual([]);
    await screenshot(page, 'notifications-dead-lettered');

    const reader = await openConsole(browser, api.url);
    await signIn(reader.page, CAROL.token);
    await reader.page.goto(`${api.url}/console/#/notifications`);
    await waitForText(reader.page, 'subscription-state', /^dead-lettered$/);
    expect(await reader.page.getByRole('button', { name: 'Resume' }).count()).toBe(0);
    expect(await reader.page.locator('#subscription-url').count()).toBe(0);

    await receiver.setMode('ok');
    const row = page.getByTestId('subscription');
    await row.getByPlaceholder('reason').fill('receiver fixed');
    await row.getByRole('button', { name: 'Resume' }).click();
    await waitForText(page, 'subscription-state', /^active$/, 15_000);
    await waitForText(page, 'subscription-backlog', /^0$/, 15_000);
    expect(new Set(receiver.processed().map((receipt) => receipt.type))).toEqual(new Set(['kill_switch.release', 'kill_switch.engage']));
    expect([...admin.cspViolations, ...reader.cspViolations]).toEqual([]);
    await Promise.all([admin.context.close(), reader.context.close()]);
  });
});
