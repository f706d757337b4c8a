// The docs in a real browser: /docs (Swagger UI), /redoc, and the static page `make docs` builds.
// Each must render, log no console error, and load nothing from any host but ours.
import { execFileSync } from 'node:child_process';
import { createHash, randomBytes } from 'node:crypto';
import { existsSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';
import { chromium, type Browser, type Locator, type Page } from 'playwright-core';
import spec from '../generated/openapi.json' with { type: 'json' };
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { loadConfig } from '../src/config.js';
import { useServer } from './support/server.js';
import { createTask } from './support/tasks.js';
import { signUp } from './support/users.js';

const CHROMIUM = '/usr/bin/chromium';
const hasChromium = existsSync(CHROMIUM);
if (!hasChromium) {
  console.warn(`tests/docs.test.ts: SKIPPED, no Chromium at ${CHROMIUM} (apt-get install -y chromium; .ci/run installs it)`);
}
const OPERATIONS = Object.values(spec.paths).flatMap((item) => Object.keys(item).filter((key) => ['get', 'put', 'post', 'delete', 'patch'].includes(key))).length;
// DOCS_SCREENSHOTS=/some/dir saves a picture of each page, to look at by eye.
const screenshots = process.env.DOCS_SCREENSHOTS;
// A page renders in about a second alone, but CI runs these beside three other test files on two
// cores, where a browser gets a fraction of the CPU: the tests check what renders, not how fast.
const settled = { timeout: 30_000 };

interface Visit {
  page: Page;
  consoleErrors: string[];
  /** Every response with a 4xx or 5xx status (a missing favicon included). */
  failed: string[];
  /** Requests to any host but 127.0.0.1 (and not data:/blob:/file:): aborted and listed here. */
  foreign: string[];
}

describe.skipIf(!hasChromium)('the docs in a browser', { timeout: 120_000 }, () => {
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
    const failed: string[] = [];
    const foreign: string[] = [];
    page.on('response', (response) => {
      if (response.status() >= 400) failed.push(`${response.status()} ${response.request().method()} ${response.url()}`);
    });
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
    return { page, consoleErrors, failed, foreign };
  }

  async function finish({ page, consoleErrors, failed, foreign }: Visit, name: string) {
    await page.waitForLoadState('networkidle');
    if (screenshots) await page.screenshot({ path: join(screenshots, `${name}.png`) });
    await page.context().close();
    expect(consoleErrors, 'console errors').toEqual([]);
    expect(failed, 'responses with an error status').toEqual([]);
    expect(foreign, 'requests to other hosts').toEqual([]);
  }

  it('/docs renders Swagger UI with every operation and an Authorize button', async () => {
    const visit_ = await visit(`${server().baseUrl}/docs`);
    const { page } = visit_;
    await expect.poll(() => page.locator('.opblock-summary-path[data-path="/tasks/{id}"]').count(), settled).toBe(3);
    await expect.poll(() => page.locator('.opblock').count(), settled).toBe(OPERATIONS);
    expect(await page.locator('.scheme-container button.authorize').isVisible()).toBe(true);
    // Try it out goes to the server that serves the page, not to the spec's local default.
    expect(await page.locator('.servers select').textContent()).toBe(`${new URL(server().baseUrl).origin} - The server that serves this page`);
    await finish(visit_, 'swagger-ui');
  });

  it('both pages name a favicon, and /favicon.ico, which browsers ask for anyway, is an image', async () => {
    for (const path of ['/docs', '/redoc']) expect(await (await server().fetch(path)).text(), path).toContain('<link rel="icon" href="/favicon.ico">');
    const res = await server().fetch('/favicon.ico');
    expect(res.status).toBe(200);
    expect(res.headers.get('content-type')).toBe('image/png');
  });

  /** Authorize in Swagger UI with a bearer token, as a reader pastes one. */
  async function authorize(page: Page, token: string) {
    await page.locator('.scheme-container button.authorize').click();
    await page.locator('input[aria-label="auth-bearer-value"]').fill(token);
    await page.locator('.modal-ux button[aria-label="Apply credentials"]').click();
    await expect.poll(() => page.locator('.modal-ux button[aria-label="Remove authorization"]').count(), settled).toBe(1);
    await page.locator('.modal-ux button.btn-done').click();
  }

  /** One operation's block, opened, with "Try it out" pressed. */
  async function openTryItOut(page: Page, operationId: string) {
    const operation = page.locator(`[id$="-${operationId}"].opblock`);
    await operation.locator('.opblock-summary-control').click();
    await operation.locator('button.try-out__btn').click();
    return operation;
  }

  /** Fills in inputs (a text box, or a drop-down for an enum) and presses Execute; the answer and the URL asked. */
  async function execute(operation: Locator, params: Record<string, string> = {}) {
    for (const [name, value] of Object.entries(params)) {
      const select = operation.locator(`tr[data-param-name="${name}"] select`);
      if ((await select.count()) > 0) await select.selectOption(value);
      else await operation.locator(`tr[data-param-name="${name}"] input`).fill(value);
    }
    await operation.locator('button.execute').click();
    const live = operation.locator('.live-responses-table .response');
    await expect.poll(() => live.locator('.response-col_status').first().textContent(), settled).toMatch(/^\d{3}$/);
    const status = Number(await live.locator('.response-col_status').first().textContent());
    const body = await live.locator('.response-col_description .highlight-code pre').first().textContent();
    const url = new URL((await operation.locator('.request-url pre').first().textContent())!);
    return { status, body: JSON.parse(body ?? 'null') as Record<string, unknown>, url };
  }

  /** Try it out → Execute on one operation, with its inputs as pre-filled unless `params` says otherwise. */
  async function tryItOut(page: Page, operationId: string, params: Record<string, string> = {}) {
    const { status, body } = await execute(await openTryItOut(page, operationId), params);
    return { status, body };
  }

  it('/docs "try it out" works with the bearer scheme: authorize, execute GET /auth/me, see 200', async () => {
    const user = await signUp(server());
    const visit_ = await visit(`${server().baseUrl}/docs`);
    await authorize(visit_.page, user.client.tokens!.access_token);
    // The body is the signed-up user: the request really carried their token.
    expect(await tryItOut(visit_.page, 'getCurrentUser')).toMatchObject({ status: 200, body: { email: user.email } });
    await finish(visit_, 'swagger-ui-try-it-out');
  });

  it('/docs "try it out" on the task operations works for a new user as pre-filled: list, create, read', async () => {
    const user = await signUp(server());
    const visit_ = await visit(`${server().baseUrl}/docs`);
    await authorize(visit_.page, user.client.tokens!.access_token);
    expect(await tryItOut(visit_.page, 'listTasks')).toMatchObject({ status: 200, body: { items: [], total: 0 } });
    const created = await tryItOut(visit_.page, 'createTask');
    expect(created).toMatchObject({ status: 201, body: { owner_id: user.id } });
    // The id is the one field a reader changes: the example's task is not theirs.
    const read = await tryItOut(visit_.page, 'getTask', { id: String(created.body.id) });
    expect(read).toEqual({ status: 200, body: created.body });
    await finish(visit_, 'swagger-ui-tasks');
  });

  it("the default reset link opens /docs at the confirm operation, whose try it out resets the password with the link's token", async () => {
    const user = await signUp(server());
    // A token as a reset mail carries it (only its hash is stored, so the test makes one).
    const token = randomBytes(32).toString('base64url');
    const tokenHash = createHash('sha256').update(token).digest('hex');
    await server().knex('account_tokens').insert({ user_id: user.id, purpose: 'password_reset', token_hash: tokenHash, expires_at: new Date(Date.now() + 3600_000) });
    const link = loadConfig({ NODE_ENV: 'test' }).mail.passwordResetUrl.replace('http://localhost:8000', server().baseUrl).replace('{token}', token);
    const visit_ = await visit(link);
    const operation = visit_.page.locator('[id$="-confirmPasswordReset"].opblock');
    await expect.poll(() => operation.getAttribute('class'), settled).toMatch(/\bis-open\b/);
    await operation.locator('button.try-out__btn').click();
    await operation.locator('textarea.body-param__text').fill(JSON.stringify({ token, new_password: 'a-brand-new-secret' }));
    await operation.locator('button.execute').click();
    await expect.poll(() => operation.locator('.live-responses-table .response .response-col_status').first().textContent(), settled).toBe('204');
    await finish(visit_, 'swagger-ui-reset-link');
    expect((await server().client().POST('/auth/login', { body: { email: user.email, password: 'a-brand-new-secret' } })).response.status).toBe(200);
  });

  it('/docs "try it out" on GET /tasks sends no filter unless the reader fills one in, and sends the planning filters when filled in', async () => {
    const user = await signUp(server());
    const due = await createTask(user, { title: 'Pay the supplier', priority: 'high', labels: ['Finance'], due_at: '2026-11-30T17:00:00Z' });
    await createTask(user, { priority: 'high', labels: ['finance'] });
    await createTask(user, { status: 'done' });
    const visit_ = await visit(`${server().baseUrl}/docs`);
    await authorize(visit_.page, user.client.tokens!.access_token);
    const operation = await openTryItOut(visit_.page, 'listTasks');
    const FILTERS = ['status', 'q', 'priority', 'label', 'due_before', 'due_after', 'owner_id', 'cursor'];
    for (const name of FILTERS) {
      const input = operation.locator(`tr[data-param-name="${name}"]`).locator('input, select');
      expect(await input.inputValue(), name).toBe('');
    }
    const asIs = await execute(operation);
    expect([...asIs.url.searchParams.keys()].filter((name) => FILTERS.includes(name)), 'filters sent as pre-filled').toEqual([]);
    expect(asIs).toMatchObject({ status: 200, body: { total: 3 } });
    const filtered = await execute(operation, { priority: 'high', label: 'FINANCE', due_before: '2026-12-01T00:00:00Z', sort: 'due_at' });
    expect(Object.fromEntries(filtered.url.searchParams)).toMatchObject({ priority: 'high', label: 'FINANCE', due_before: '2026-12-01T00:00:00Z', sort: 'due_at' });
    expect(filtered).toMatchObject({ status: 200, body: { total: 1, items: [{ id: due.id, labels: ['Finance'], due_at: '2026-11-30T17:00:00.000Z' }] } });
    await finish(visit_, 'swagger-ui-task-filters');
  });

  it('/docs "try it out" on GET /labels lists the labels of the reader\'s tasks', async () => {
    const user = await signUp(server());
    await createTask(user, { labels: ['Finance', 'Q4'] });
    await createTask(user, { labels: ['q4'] });
    const visit_ = await visit(`${server().baseUrl}/docs`);
    await authorize(visit_.page, user.client.tokens!.access_token);
    expect(await tryItOut(visit_.page, 'listLabels')).toEqual({ status: 200, body: { items: [{ name: 'Finance', count: 1 }, { name: 'Q4', count: 2 }] } });
    await finish(visit_, 'swagger-ui-labels');
  });

  it('/redoc renders Redoc with the operations', async () => {
    const visit_ = await visit(`${server().baseUrl}/redoc`);
    const { page } = visit_;
    await expect.poll(() => page.getByText('/tasks/{id}', { exact: true }).count(), settled).toBeGreaterThan(0);
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
      await expect.poll(() => page.getByText('/tasks/{id}', { exact: true }).count(), settled).toBeGreaterThan(0);
      expect(page.url()).toMatch(/#\/tasks\/gettask$/);
      await finish(visit_, 'static');
    } finally {
      rmSync(out, { recursive: true, force: true });
    }
  });
});
