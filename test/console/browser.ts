import { existsSync, mkdirSync, readFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { join } from 'node:path';
import { chromium, type Browser, type BrowserContext, type Page } from 'playwright-core';
import { REPO_ROOT } from '../helpers/processes.js';

/** Debian's chromium (`apt-get install chromium`; .ci/run installs it when missing). */
const CHROMIUM_PATH = process.env.CHROMIUM_PATH ?? '/usr/bin/chromium';
/** Screenshots of each screen, kept as test artifacts (test-results/ is git-ignored). */
export const SCREENSHOT_DIR = join(REPO_ROOT, 'test-results', 'console');

/** @throws with the install command when chromium is missing: a browser test must fail, never skip. */
export const launchChromium = async (): Promise<Browser> => {
  if (!existsSync(CHROMIUM_PATH)) throw new Error(`no chromium at ${CHROMIUM_PATH}: apt-get install -y chromium (or set CHROMIUM_PATH)`);
  return chromium.launch({
    executablePath: CHROMIUM_PATH,
    args: ['--no-sandbox', '--disable-gpu', '--disable-background-networking', '--disable-dev-shm-usage'],
  });
};

const axeSource = readFileSync(createRequire(import.meta.url).resolve('axe-core/axe.min.js'), 'utf8');

export type AxeViolation = { id: string; impact: string | null; help: string; nodes: { target: string[] }[] };

/**
 * Runs axe-core in the page. It is evaluated through the DevTools protocol rather than added as a <script>, which
 * the console's Content-Security-Policy would (rightly) refuse.
 */
export const seriousViolations = async (page: Page): Promise<AxeViolation[]> => {
  await page.evaluate(axeSource);
  // A string, not a function: the test sources are type-checked without the DOM library.
  const violations = await page.evaluate<AxeViolation[]>("axe.run(document, { resultTypes: ['violations'] }).then((result) => result.violations)");
  return violations.filter((violation) => violation.impact === 'serious' || violation.impact === 'critical');
};

/** A signed-in console page for a token, in a browser context of its own (its own cookie jar). */
export type ConsolePage = { context: BrowserContext; page: Page; cspViolations: string[] };

export const openConsole = async (browser: Browser, baseUrl: string): Promise<ConsolePage> => {
  const context = await browser.newContext({ viewport: { width: 1280, height: 900 } });
  const page = await context.newPage();
  const cspViolations: string[] = [];
  page.on('console', (message) => {
    if (/Content Security Policy/i.test(message.text())) cspViolations.push(message.text());
  });
  await page.goto(`${baseUrl}/`);
  return { context, page, cspViolations };
};

export const signIn = async (page: Page, token: string): Promise<void> => {
  await page.locator('#token').fill(token);
  await page.getByRole('button', { name: 'Sign in' }).click();
  await page.getByTestId('who').waitFor({ timeout: 10_000 });
};

/** Waits until the element with this test id shows text matching `pattern`. */
export const waitForText = async (page: Page, testId: string, pattern: RegExp, timeoutMs = 10_000): Promise<void> => {
  // A function, not a string: the console's CSP forbids eval, which a string predicate would need. `globalThis` is
  // typed by hand because the test sources are type-checked without the DOM library.
  await page.waitForFunction(
    ({ id, source, flags }) => {
      const doc = (globalThis as unknown as { document: { querySelector(selector: string): { textContent: string | null } | null } }).document;
      return new RegExp(source, flags).test(doc.querySelector(`[data-testid="${id}"]`)?.textContent ?? '');
    },
    { id: testId, source: pattern.source, flags: pattern.flags },
    { timeout: timeoutMs, polling: 'raf' },
  );
};

export const screenshot = async (page: Page, name: string): Promise<void> => {
  mkdirSync(SCREENSHOT_DIR, { recursive: true });
  await page.screenshot({ path: join(SCREENSHOT_DIR, `${name}.png`), fullPage: true });
};
