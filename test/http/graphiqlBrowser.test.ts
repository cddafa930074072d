// GraphiQL in a real browser (Debian's Chromium driven by playwright-core) over real HTTP, as a
// person would use it, with any request to another host counted as a failure: the page must work
// on a machine without internet.
import fs from 'node:fs';
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import os from 'node:os';
import path from 'node:path';
import { chromium, type BrowserContext, type Page } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { LiveStreams } from '../../src/live.js';
import { createTestApp, createTestDatabase, testConfig, type TestApp, type TestDatabase } from '../harness/database.js';

const CHROMIUM = '/usr/bin/chromium';
const chromiumMissing = !fs.existsSync(CHROMIUM);
// On a developer's machine without Chromium the test is skipped, and says why; CI must run it.
const skip = chromiumMissing && !process.env.CI;
if (skip) console.warn(`GraphiQL browser test skipped: ${CHROMIUM} not found ("apt-get install chromium" to run it).`);
const SCREENSHOT = 'test-results/graphiql.png';
const TOKEN = 'graphiql-test-token';

let target: TestDatabase;
let api: TestApp;
let server: http.Server;
let base: string;
let profileDir: string;
let browser: BrowserContext | undefined;
let live: LiveStreams;
/** Authorization headers of the operations that reached the server, in order. */
const authorizations: Array<string | undefined> = [];

beforeAll(async () => {
  if (skip) return;
  target = await createTestDatabase('graphiql');
  await target.sql('CREATE TABLE orders (id int PRIMARY KEY, customer_id int)');
  await target.sql('ANALYZE orders');
  live = new LiveStreams(testConfig().subscriptions);
  api = createTestApp(target.url, { live });
  server = http.createServer((request, response) => {
    if (request.method === 'POST') authorizations.push(request.headers.authorization);
    void api.app(request, response);
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  base = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
});

afterAll(async () => {
  if (skip) return;
  try {
    await browser?.close();
  } finally {
    if (profileDir) fs.rmSync(profileDir, { recursive: true, force: true });
  }
  await new Promise((resolve) => server.close(resolve));
  await api.close();
  await target.drop();
});

async function launchChromium(): Promise<BrowserContext> {
  if (chromiumMissing) {
    throw new Error(`Chromium is not installed at ${CHROMIUM}: run "apt-get install chromium" (.ci/run installs it).`);
  }
  profileDir = fs.mkdtempSync(path.join(os.tmpdir(), 'pgscope-chromium-'));
  return chromium.launchPersistentContext(profileDir, {
    executablePath: CHROMIUM,
    headless: true,
    viewport: { width: 1400, height: 900 },
    args: [
      '--headless',
      '--no-sandbox',
      '--disable-gpu',
      '--disable-quic',
      '--no-first-run',
      '--disable-background-networking',
      '--disable-component-update',
      '--disable-sync',
    ],
  });
}

/** The text of a GraphiQL editor (CodeMirror 5 keeps its instance on the wrapper element). */
async function editorText(page: Page, selector: string): Promise<string> {
  return page.$eval(selector, (element) => (element as unknown as { CodeMirror: { getValue(): string } }).CodeMirror.getValue());
}

const title = skip
  ? `runs the example operation in Chromium (SKIPPED: ${CHROMIUM} not found; "apt-get install chromium" to run it)`
  : 'runs the example operation in Chromium, with the headers editor, and no request to another host';

describe('GraphiQL in a browser', () => {
  it.skipIf(skip)(title, { timeout: 180_000 }, async () => {
    browser = await launchChromium();
    const page = browser.pages()[0] ?? (await browser.newPage());
    const foreign: string[] = [];
    const failed: string[] = [];
    const pageErrors: string[] = [];
    page.on('request', (request) => {
      if (new URL(request.url()).origin !== base) foreign.push(request.url());
    });
    page.on('requestfailed', (request) => {
      // stopping a subscription aborts its event stream on purpose
      if (request.headers().accept === 'text/event-stream' && request.failure()?.errorText === 'net::ERR_ABORTED') return;
      failed.push(`${request.url()}: ${request.failure()?.errorText}`);
    });
    page.on('response', (response) => {
      if (response.status() >= 400) failed.push(`${response.url()}: HTTP ${response.status()}`);
    });
    page.on('pageerror', (error) => pageErrors.push(error.message));

    // `/` redirects to the page.
    await page.goto(`${base}/`);
    expect(page.url()).toBe(`${base}/graphql`);
    expect(await page.title()).toBe('pgscope');
    await page.locator('.graphiql-execute-button').waitFor();
    expect(await editorText(page, '.graphiql-query-editor .CodeMirror')).toContain('query Overview {');

    // A token typed into the headers editor goes with the operation.
    await page.getByRole('button', { name: 'Headers', exact: true }).click();
    await page.locator('.graphiql-editor-tool .graphiql-editor:not(.hidden) .CodeMirror').click();
    await page.keyboard.type(`{"Authorization": "Bearer ${TOKEN}"}`);
    expect(JSON.parse(await editorText(page, '.graphiql-editor-tool .graphiql-editor:not(.hidden) .CodeMirror'))).toEqual({
      Authorization: `Bearer ${TOKEN}`,
    });

    const operationSent = page.waitForResponse(
      (response) => response.request().method() === 'POST' && (response.request().postData() ?? '').includes('Overview'),
    );
    await page.locator('.graphiql-execute-button').click();
    expect((await operationSent).status()).toBe(200);
    await page.waitForFunction(() => {
      const result = document.querySelector('.result-window .CodeMirror') as unknown as { CodeMirror?: { getValue(): string } } | null;
      return result?.CodeMirror?.getValue().includes('"serverVersion"');
    });
    const result = JSON.parse(await editorText(page, '.result-window .CodeMirror')) as {
      data: { capabilities: { serverVersion: string }; tables: { edges: Array<{ node: { name: string } }> } };
      errors?: unknown;
    };
    const [server] = await target.sql<{ server_version: string }>("SELECT current_setting('server_version') AS server_version");
    expect(result.errors).toBeUndefined();
    expect(result.data.capabilities.serverVersion).toBe(server!.server_version);
    expect(result.data.tables.edges.map((edge) => edge.node.name)).toEqual(['orders']);
    // Schema introspection (sent before the token was typed) goes out without it; the operation with it.
    expect(authorizations.at(-1)).toBe(`Bearer ${TOKEN}`);

    // A subscription streams its events over SSE into the result pane; stopping it ends the stream.
    await page.$eval('.graphiql-query-editor .CodeMirror', (element) =>
      (element as unknown as { CodeMirror: { setValue(text: string): void } }).CodeMirror.setValue(
        'subscription Pool { poolStatus(intervalMs: 1000) { max waiting } }',
      ),
    );
    // GraphiQL reads the operations of an edit after a short debounce
    await page.waitForTimeout(1000);
    await page.locator('.graphiql-execute-button').click();
    await page.waitForFunction(() => {
      const result = document.querySelector('.result-window .CodeMirror') as unknown as { CodeMirror?: { getValue(): string } } | null;
      return result?.CodeMirror?.getValue().includes('"poolStatus"');
    });
    expect(JSON.parse(await editorText(page, '.result-window .CodeMirror'))).toEqual({ data: { poolStatus: { max: 4, waiting: 0 } } });
    expect(live.open).toBe(1);
    await page.locator('.graphiql-execute-button').click();
    await expect.poll(() => live.open).toBe(0);

    fs.mkdirSync(path.dirname(SCREENSHOT), { recursive: true });
    await page.screenshot({ path: SCREENSHOT });
    expect(foreign, 'requests to hosts other than the test server').toEqual([]);
    expect(failed, 'failed requests').toEqual([]);
    expect(pageErrors, 'uncaught errors in the page').toEqual([]);
  });
});
