/**
 * The run app in a real browser: headless Chromium opens a small MCP Apps host page (test/browser)
 * that talks Streamable HTTP to the built CLI (`serve --transport http`, real Temporal dev server,
 * scripted model, sink) and embeds the app the way Claude does: the ui:// resource loaded into a
 * sandbox proxy on another origin, bridged with ext-apps' AppBridge. The page shows a run's steps as
 * they happen; Approve makes the sink see the POST once and the run complete; a runs list opens
 * another run, whose message box and Cancel button act on it; the theme follows the host; no
 * credential is shown; polling stops once a run has closed. Screenshots of the three states are saved
 * (docs/app-*.png with APP_SCREENSHOT_DIR=docs).
 */
import assert from 'node:assert/strict';
import type { ChildProcess } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { after, before, describe, it } from 'node:test';
import { chromium, type Browser, type FrameLocator, type Page } from 'playwright-core';
import { ensureChromium, startHostServer, type HostServer } from './support/browser.js';
import { repoRoot } from './support/mcpStdio.js';
import { startModelServer, type ModelServer } from './support/modelServer.js';
import { serverEnv, startHttpCli } from './support/serverEnv.js';
import { startSinkServer, type SinkServer } from './support/sinkServer.js';
import { startDevServer, type DevServer } from './support/temporal.js';
import { sleep, waitFor } from './support/wait.js';

const TOKEN = 'app-browser-token-0123456789abcdef';
const SECRET = 'sk-live-app-secret-9f8e7d6c5b4a';
/** Screenshots of each state; `APP_SCREENSHOT_DIR=docs` refreshes the README's (a temp dir otherwise, so tests leave the tree clean). */
const shotsDir = process.env.APP_SCREENSHOT_DIR ? path.resolve(repoRoot, process.env.APP_SCREENSHOT_DIR) : path.join(os.tmpdir(), 'durable-agent-app-screenshots');
const chrome = ensureChromium();

describe('the run app in Chromium, through an MCP Apps host', { timeout: 4 * 60_000, skip: 'skip' in chrome ? chrome.skip : false }, () => {
  let dev: DevServer;
  let model: ModelServer;
  let sink: SinkServer;
  let cli: ChildProcess;
  let cliStderr = '';
  let hostServer: HostServer;
  let browser: Browser;
  let page: Page;
  const consoleErrors: string[] = [];
  const home = fs.mkdtempSync(path.join(os.tmpdir(), 'da-app-browser-'));
  const uniq = `${process.pid}-${Date.now().toString(36)}`;

  /** The app: the inner frame of the sandbox proxy. */
  const app = (): FrameLocator => page.frameLocator('#app-frame').frameLocator('#app');
  const shot = async (name: string) => {
    fs.mkdirSync(shotsDir, { recursive: true });
    await page.locator('#app-frame').screenshot({ path: path.join(shotsDir, name) });
  };
  const host = <T>(fn: string, ...args: unknown[]): Promise<T> =>
    page.evaluate(([f, a]) => (globalThis as any).host[f as string](...(a as unknown[])), [fn, args] as const) as Promise<T>;

  before(async () => {
    [dev, model, sink] = await Promise.all([startDevServer(), startModelServer(), startSinkServer()]);
    let mcpUrl: string;
    ({ child: cli, url: mcpUrl } = await startHttpCli(
      serverEnv({ temporalAddress: dev.address, modelUrl: model.baseUrl, home, taskQueue: `app-browser-${uniq}` }, { DURABLE_AGENT_TOKEN: TOKEN }),
      (text) => (cliStderr += text),
    ));
    hostServer = await startHostServer(mcpUrl);
    // --no-sandbox: Chromium refuses to start as root with its own sandbox (the page's iframes keep theirs).
    browser = await chromium.launch({ executablePath: (chrome as { path: string }).path, args: ['--no-sandbox'] });
    page = await openHost('legacy');
  });

  /** A fresh host page whose client speaks `era`, connected and listing tools. */
  async function openHost(era: 'modern' | 'legacy'): Promise<Page> {
    const p = await browser.newPage({ viewport: { width: 760, height: 1400 }, deviceScaleFactor: 1 });
    p.on('console', (m) => {
      if (m.type() === 'error') consoleErrors.push(m.text());
    });
    p.on('pageerror', (e) => consoleErrors.push(String(e)));
    await p.goto(hostServer.pageUrl(TOKEN, era));
    await p.waitForFunction(() => (globalThis as any).host !== undefined || (globalThis as any).hostError !== undefined, undefined, { timeout: 30_000 });
    const failed = await p.evaluate(() => (globalThis as any).hostError as string | undefined);
    assert.equal(failed, undefined, `the host page could not connect: ${failed}`);
    const version = await p.evaluate(() => (globalThis as any).host.protocolVersion() as string);
    if (era === 'modern') assert.equal(version, '2026-07-28');
    else assert.match(version, /^2025-/);
    return p;
  }

  after(async () => {
    await browser?.close().catch(() => undefined);
    await hostServer?.close().catch(() => undefined);
    cli?.kill('SIGKILL');
    await Promise.all([dev?.stop(), model?.close(), sink?.close()].map((p) => p?.catch(() => undefined)));
    fs.rmSync(home, { recursive: true, force: true });
    if (process.exitCode) process.stderr.write(`server stderr (tail):\n${cliStderr.slice(-3000)}\n`);
  });

  it('2025-11-25 host: shows a run live, approves its write once through the host, and shows the result', async () => {
    const script = `app-approve-${uniq}`;
    model.script(script, [
      { delayMs: 1_500, then: { toolCalls: [{ name: 'http_request', arguments: { method: 'GET', url: `${sink.url}/status` } }] } },
      {
        delayMs: 4_000,
        then: {
          toolCalls: [
            {
              name: 'http_request',
              arguments: { method: 'POST', url: `${sink.url}/app-deploy`, headers: { Authorization: `Bearer ${SECRET}` }, body: '{"text":"deploying v2"}' },
            },
          ],
        },
      },
      { delayMs: 1_000, then: { content: 'Posted the deploy note after approval.' } },
    ]);
    const started = await host<any>('show', 'start_agent_run', { task: `Check the status page, then post a deploy note [script:${script}]`, maxSteps: 8 });
    assert.notEqual(started.isError, true, JSON.stringify(started));
    const runId: string = started.structuredContent.runId;

    // Live: the first tool call shows up while the run is still running.
    await app().locator('[data-field=task]').filter({ hasText: 'post a deploy note' }).waitFor({ timeout: 30_000 });
    await app().locator('.entry[data-kind=tool_call]').first().waitFor({ timeout: 30_000 });
    await app().locator('.run-head [data-status=running]').waitFor();
    assert.match((await app().locator('[data-field=step]').textContent()) ?? '', /^Step \d+ of 8$/);
    assert.match((await app().locator('.entry[data-kind=tool_call]').first().textContent()) ?? '', /http_request/);
    // Its inline style and script both run under its own hash CSP plus the host's (sandbox.ts).
    assert.equal(await app().locator('.run-head .badge').evaluate((el) => (globalThis as any).getComputedStyle(el).borderTopLeftRadius), '999px');
    await shot('app-running.png');

    // The write waits for a person: tool, arguments and summary, with the credential redacted.
    const card = app().locator('article.approval');
    await card.waitFor({ timeout: 30_000 });
    await app().locator('.run-head [data-status=waiting_for_approval]').waitFor();
    const cardText = (await card.textContent()) ?? '';
    assert.match(cardText, /http_request/);
    assert.match(cardText, /POST/);
    assert.match(cardText, /app-deploy/);
    assert.match(cardText, /\[redacted\]/);
    assert.equal(sink.requests().filter((r) => r.path === '/app-deploy').length, 0, 'nothing posted before approval');
    await shot('app-approval.png');

    await card.locator('button[data-action=approve]').click();
    await app().locator('.run-head [data-status=completed]').waitFor({ timeout: 60_000 });
    await app().locator('[data-field=result]').filter({ hasText: 'Posted the deploy note after approval.' }).waitFor();
    assert.equal(sink.requests().filter((r) => r.method === 'POST' && r.path === '/app-deploy').length, 1, 'the sink saw the POST exactly once');
    await app().locator('.entry[data-kind=approval]').filter({ hasText: 'browser-test-host' }).waitFor();
    await app().locator('.entry[data-kind=closed]').waitFor();
    assert.equal(await app().locator('article.approval').count(), 0, 'no approval left');
    assert.equal(await app().locator('section.controls').isHidden(), true, 'no controls on a closed run');
    const shown = (await app().locator('body').textContent()) ?? '';
    assert.ok(!shown.includes(SECRET), 'the credential never reaches the page');
    await shot('app-completed.png');

    const status = await host<any>('call', 'get_run_status', { runId });
    assert.equal(status.structuredContent.status, 'completed');

    // Polling stops once the run has closed.
    const views = () => hostServer.calls.filter((c) => c.method === 'tools/call' && c.name === 'get_run_view').length;
    const before = views();
    assert.ok(before >= 3, `the app polled get_run_view (${before} calls)`);
    await sleep(5_000);
    assert.equal(views(), before, 'no get_run_view after the run closed');
  });

  it('2026-07-28 host: lists runs, opens one, sends it a message, follows the host theme, and cancels it', async () => {
    const script = `app-cancel-${uniq}`;
    model.script(script, [{ toolCalls: [{ name: 'wait', arguments: { seconds: 3600, reason: 'the nightly job to finish' } }] }]);
    // This host's client speaks 2026-07-28 (the first one's, 2025-11-25).
    await page.close();
    page = await openHost('modern');
    const started = await host<any>('call', 'start_agent_run', { task: `Watch the nightly job [script:${script}]`, approval: 'none' });
    const runId: string = started.structuredContent.runId;
    await waitFor('the run in list_runs', async () => {
      const listed = await host<any>('call', 'list_runs', {});
      return listed.structuredContent.runs.some((r: { runId: string }) => r.runId === runId);
    });

    // A page of one (newest first), then the next page on "More runs".
    await host('show', 'list_runs', { limit: 1 });
    const row = app().locator(`button[data-run-id="${runId}"]`);
    await row.waitFor({ timeout: 30_000 });
    assert.equal(await app().locator('.run-list button').count(), 1);
    await app().locator('button[data-action=more]').click();
    await waitFor('the next page of runs', async () => (await app().locator('.run-list button').count()) === 2, 10_000);
    await row.click();
    await app().locator('[data-field=task]').filter({ hasText: 'Watch the nightly job' }).waitFor();
    // `wait` is a durable timer: the model's turn asking for it shows, and the status says what it waits for.
    await app().locator('.entry[data-kind=llm_turn]').filter({ hasText: 'wait' }).first().waitFor({ timeout: 30_000 });
    await app().locator('.stats').filter({ hasText: 'the nightly job to finish' }).waitFor({ timeout: 30_000 });

    // The theme follows the host, live.
    assert.equal(await app().locator('html').getAttribute('data-theme'), 'light');
    await host('setTheme', 'dark');
    await waitFor('the app to turn dark', async () => (await app().locator('html').getAttribute('data-theme')) === 'dark', 10_000);

    // Usable at narrow widths: nothing overflows sideways.
    await page.setViewportSize({ width: 380, height: 1400 });
    await sleep(300);
    const overflow = await app().locator('html').evaluate((el) => el.scrollWidth - el.clientWidth);
    assert.ok(overflow <= 0, `no horizontal overflow at 380 px (${overflow})`);
    await shot('app-dark-narrow.png');
    await page.setViewportSize({ width: 760, height: 1400 });

    await app().locator('textarea[aria-label=Message]').fill('Check the staging job too.');
    await app().locator('button[data-action=send]').click();
    await app().locator('.entry[data-kind=message]').filter({ hasText: 'staging' }).waitFor({ timeout: 30_000 });

    await app().locator('button[data-action=cancel]').click();
    await app().locator('button[data-action=confirm-cancel]').click();
    await app().locator('.run-head [data-status=cancelled]').waitFor({ timeout: 30_000 });
    const status = await host<any>('call', 'get_run_status', { runId });
    assert.equal(status.structuredContent.status, 'cancelled');
    await host('setTheme', 'light');
  });

  it('2026-07-28 host: shows sub-agents and opens one', async () => {
    const parent = `app-parent-${uniq}`;
    const child = `app-child-${uniq}`;
    model.script(parent, [
      { toolCalls: [{ name: 'delegate', arguments: { task: `Look up the release notes [script:${child}]`, maxSteps: 3 } }] },
      { content: 'The release notes say: all good.' },
    ]);
    model.script(child, [{ delayMs: 4_000, then: { content: 'all good' } }]);
    await host('show', 'start_agent_run', { task: `Summarise the release [script:${parent}]`, approval: 'none' });
    const sub = app().locator('.children button').filter({ hasText: 'Look up the release notes' });
    await sub.waitFor({ timeout: 30_000 });
    assert.match((await app().locator('.children h2').textContent()) ?? '', /Sub-agents \(1\)/);
    await sub.click();
    await app().locator('[data-field=task]').filter({ hasText: 'Look up the release notes' }).waitFor();
    await app().locator('.run-head').filter({ hasText: 'Sub-agent of' }).waitFor();
    await app().locator('.run-head [data-status=completed]').waitFor({ timeout: 30_000 });
    await app().locator('[data-field=result]').filter({ hasText: 'all good' }).waitFor();
  });

  it('2026-07-28 host: Reject with a comment skips the write and tells the agent', async () => {
    const script = `app-reject-${uniq}`;
    model.script(script, [
      { toolCalls: [{ name: 'http_request', arguments: { method: 'DELETE', url: `${sink.url}/app-reject` } }] },
      { content: 'Left it in place, as asked.' },
    ]);
    await host('show', 'start_agent_run', { task: `Delete the old build [script:${script}]` });
    const card = app().locator('article.approval');
    await card.waitFor({ timeout: 30_000 });
    await card.locator('textarea[aria-label=Comment]').fill('Keep it for the audit.');
    await card.locator('button[data-action=reject]').click();
    await app().locator('.run-head [data-status=completed]').waitFor({ timeout: 30_000 });
    await app().locator('.entry.d-reject[data-kind=approval]').filter({ hasText: 'Keep it for the audit.' }).waitFor();
    assert.equal(sink.requests().filter((r) => r.path === '/app-reject').length, 0, 'the rejected call never ran');
    const told = model.requests(script).at(-1).messages.filter((m: { role: string }) => m.role === 'tool').map((m: { content: string }) => m.content).join('\n');
    assert.match(told, /Keep it for the audit\./, 'the agent saw the comment');
  });

  it('the host page logged no errors', () => {
    assert.deepEqual(consoleErrors, []);
  });
});
