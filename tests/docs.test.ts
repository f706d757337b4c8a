// The docs in a real browser: /docs (Swagger UI), /redoc, and the static page `make docs` builds.
// Each must render, log no console error, and load nothing from any host but ours.
import { execFileSync } from 'node:child_process';
import { existsSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';
import { chromium, type Browser, type Page } from 'playwright-core';
import spec from '../generated/openapi.json' with { type: 'json' };
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { useServer } from './support/server.js';
import { signUp } from './support/users.js';

const CHROMIUM = '/usr/bin/chromium';
const hasChromium = existsSync(CHROMIUM);
if (!hasChromium) {
  console.warn(`tests/docs.test.ts: SKIPPED, no Chromium at ${CHROMIUM} (apt-get install -y chromium; .ci/run installs it)`);
}
// DOCS_SCREENSHOTS=/some/dir saves a picture of each page, to look at by eye.
const screenshots = process.env.DOCS_SCREENSHOTS;

interface Visit {
  page: Page;
  consoleErrors: string[];
  /** Requests to any host but 127.0.0.1 (and not data:/blob:/file:): aborted and listed here. */
  foreign: string[];
}

describe.skipIf(!hasChromium)('the docs in a browser', () => {
  // The browser loads the pages' assets, which are not API operations: no proxy in between.
  const server = useServer({}, { direct: true });
  let browser: Browser;

  beforeAll(async () => {
    browser = await chromium.launch({
      executablePath: CHROMIUM,
      args: ['--headless', '--no-sandbox', '--disable-gpu', '--disable-background-networking', '--disable-component-update', '--no-first-run', '--disable-sync'],
    });
  });
  afterAll(async () => {
    await browser?.close();
  });

  async function visit(url: string): Promise<Visit> {
    const context = await browser.newContext();
    const page = await context.newPage();
    const consoleErrors: string[] = [];
    const foreign: string[] = [];
    page.on('console', (message) => {
      if (message.type() === 'error') consoleErrors.push(message.text());
    });
    page.on('pageerror', (error) => consoleErrors.push(`uncaught: ${error.message}`));
    await context.route('**/*', (route) => {
      const { protocol, hostname } = new URL(route.request().url());
      if (['data:', 'blob:', 'file:'].includes(protocol) || hostname === '127.0.0.1') return route.continue();
      foreign.push(route.request().url());
      return route.abort();
    });
    await page.goto(url);
    return { page, consoleErrors, foreign };
  }

  async function finish({ page, consoleErrors, foreign }: Visit, name: string) {
    await page.waitForLoadState('networkidle');
    if (screenshots) await page.screenshot({ path: join(screenshots, `${name}.png`) });
    await page.context().close();
    expect(consoleErrors, 'console errors').toEqual([]);
    expect(foreign, 'requests to other hosts').toEqual([]);
  }

  it('/docs renders Swagger UI with every operation and an Authorize button', async () => {
    const visit_ = await visit(`${server().baseUrl}/docs`);
    const { page } = visit_;
    await expect.poll(() => page.locator('.opblock-summary-path[data-path="/tasks/{id}"]').count()).toBe(3);
    await expect.poll(() => page.locator('.opblock').count()).toBe(21);
    expect(await page.locator('.scheme-container button.authorize').isVisible()).toBe(true);
    await finish(visit_, 'swagger-ui');
  });

  it('/docs "try it out" works with the bearer scheme: authorize, execute GET /auth/me, see 200', async () => {
    const user = await signUp(server());
    const visit_ = await visit(`${server().baseUrl}/docs`);
    const { page } = visit_;

    await page.locator('.scheme-container button.authorize').click();
    await page.locator('input[aria-label="auth-bearer-value"]').fill(user.client.tokens!.access_token);
    await page.locator('.modal-ux button[aria-label="Apply credentials"]').click();
    await expect.poll(() => page.locator('.modal-ux button[aria-label="Remove authorization"]').count()).toBe(1);
    await page.locator('.modal-ux button.btn-done').click();

    const operation = page.locator('#operations-Auth-getCurrentUser');
    await operation.locator('.opblock-summary-control').click();
    await operation.locator('button.try-out__btn').click();
    await operation.locator('button.execute').click();

    const live = operation.locator('.live-responses-table .response');
    await expect.poll(() => live.locator('.response-col_status').first().textContent(), { timeout: 10_000 }).toBe('200');
    // The body is the signed-up user: the request really carried their token.
    expect(await live.locator('.response-col_description').first().textContent()).toContain(user.email);
    await finish(visit_, 'swagger-ui-try-it-out');
  });

  it('/redoc renders Redoc with the operations', async () => {
    const visit_ = await visit(`${server().baseUrl}/redoc`);
    const { page } = visit_;
    await expect.poll(() => page.getByText('/tasks/{id}', { exact: true }).count(), { timeout: 10_000 }).toBeGreaterThan(0);
    for (const summary of ['Create a task', 'Log in', 'Change a user\'s role or activation']) {
      expect(await page.getByRole('heading', { name: summary }).count(), summary).toBe(1);
    }
    await finish(visit_, 'redoc');
  });

  it('`make docs` builds one self-contained page that renders offline', async () => {
    const out = mkdtempSync(join(tmpdir(), 'docs-'));
    try {
      execFileSync('make', ['-s', 'docs', `DOCS_OUT=${out}`], { stdio: 'pipe' });
      const visit_ = await visit(pathToFileURL(join(out, 'index.html')).href);
      const { page } = visit_;
      expect(await page.getByRole('heading', { name: `Task Management API (${spec.info.version})` }).count()).toBe(1);
      // Redoc 3 shows one operation at a time: open one from the sidebar, as a reader would.
      await page.getByText('Tasks', { exact: true }).first().click();
      await page.getByText('Get a task', { exact: true }).first().click();
      await expect.poll(() => page.getByText('/tasks/{id}', { exact: true }).count(), { timeout: 10_000 }).toBeGreaterThan(0);
      expect(page.url()).toMatch(/#\/tasks\/gettask$/);
      await finish(visit_, 'static');
    } finally {
      rmSync(out, { recursive: true, force: true });
    }
  });
});
