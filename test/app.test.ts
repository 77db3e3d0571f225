/**
 * The run app on the wire, through the built CLI in both protocol eras (the SDK's v2 client pinned to
 * 2026-07-28, and its default 2025-11-25 handshake, over stdio), read the way ext-apps hosts read it:
 * the four tools point at ui://durable-agent/run, get_run_view is app-only; the resource is one
 * self-contained HTML page with a CSP that allows exactly its inline script and style; hosts without
 * Apps get the same results as before. Over HTTP with two principals (--tokens-file), get_run_view
 * refuses another principal's run like get_run_status does, and shows what get_run_status and
 * get_run_history show, credentials redacted.
 */
import assert from 'node:assert/strict';
import type { ChildProcess } from 'node:child_process';
import { createHash } from 'node:crypto';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { after, before, describe, it } from 'node:test';
import type { CallToolResult, Client, Tool } from '@modelcontextprotocol/client';
import {
  getToolUiResourceUri,
  isToolVisibilityAppOnly,
  isToolVisibilityModelOnly,
  RESOURCE_MIME_TYPE,
  RESOURCE_URI_META_KEY,
} from '@modelcontextprotocol/ext-apps/app-bridge';
import { connectHttpClient, eraClientOptions, type Era } from './support/eraClients.js';
import { resultText, spawnServer, validateStructured, type SpawnedServer } from './support/mcpStdio.js';
import { startModelServer, type ModelServer } from './support/modelServer.js';
import { serverEnv, startHttpCli } from './support/serverEnv.js';
import { startSinkServer, type SinkServer } from './support/sinkServer.js';
import { startDevServer, type DevServer } from './support/temporal.js';
import { waitFor } from './support/wait.js';

const URI = 'ui://durable-agent/run';
const WITH_APP = ['start_agent_run', 'get_run_status', 'get_run_result', 'list_runs'];
const ALICE = 'alice-token-0123456789abcdef';
const BOB = 'bob-token-0123456789abcdef0';
const SECRET = 'sk-live-app-proto-1234567890';

describe('the run app on the wire', { timeout: 3 * 60_000, concurrency: true }, () => {
  let dev: DevServer;
  let model: ModelServer;
  let sink: SinkServer;
  let http: ChildProcess;
  let httpUrl: string;
  let httpStderr = '';
  const stdio = new Map<Era, SpawnedServer>();
  const homes: string[] = [];
  const uniq = `${process.pid}-${Date.now().toString(36)}`;

  function env(extra: Record<string, string | undefined> = {}): Record<string, string | undefined> {
    const home = fs.mkdtempSync(path.join(os.tmpdir(), 'da-app-'));
    homes.push(home);
    return serverEnv({ temporalAddress: dev.address, modelUrl: model.baseUrl, home, taskQueue: `app-${uniq}` }, extra);
  }

  before(async () => {
    [dev, model, sink] = await Promise.all([startDevServer(), startModelServer(), startSinkServer()]);
    const tokensFile = path.join(fs.mkdtempSync(path.join(os.tmpdir(), 'da-app-tokens-')), 'tokens.json');
    fs.writeFileSync(tokensFile, JSON.stringify({ alice: ALICE, bob: BOB }), { mode: 0o600 });
    homes.push(path.dirname(tokensFile));
    const servers = Promise.all(
      (['modern', 'legacy'] as const).map(async (era) =>
        stdio.set(era, await spawnServer({ args: ['--no-service', '--no-worker'], env: env(), clientOptions: eraClientOptions(era) })),
      ),
    );
    // The HTTP server runs the worker for every run of this file.
    ({ child: http, url: httpUrl } = await startHttpCli(env({ DURABLE_AGENT_TOKENS_FILE: tokensFile }), (t) => (httpStderr += t)));
    await servers;
  });

  after(async () => {
    await Promise.all([...stdio.values()].map((s) => s.close().catch(() => undefined)));
    http?.kill('SIGKILL');
    await Promise.all([dev?.stop(), model?.close(), sink?.close()].map((p) => p?.catch(() => undefined)));
    for (const home of homes) fs.rmSync(home, { recursive: true, force: true });
    if (process.exitCode) process.stderr.write(`http server stderr (tail):\n${httpStderr.slice(-3000)}\n`);
  });

  for (const era of ['modern', 'legacy'] as const) {
    const label = era === 'modern' ? '2026-07-28' : '2025-11-25';
    const client = (): Client => stdio.get(era)!.client;

    it(`${label}: tools/list points four tools at the app and keeps get_run_view for the app alone`, async () => {
      if (era === 'modern') assert.equal(client().getNegotiatedProtocolVersion(), '2026-07-28');
      else assert.match(client().getNegotiatedProtocolVersion() ?? '', /^2025-/);
      const tools = new Map<string, Tool>((await client().listTools()).tools.map((t) => [t.name, t]));
      for (const name of WITH_APP) {
        const tool = tools.get(name)!;
        assert.equal(getToolUiResourceUri(tool), URI, `${name}: _meta.ui.resourceUri`);
        assert.deepEqual(tool._meta?.ui, { resourceUri: URI }, `${name}: visible to model and app`);
        assert.equal(tool._meta?.[RESOURCE_URI_META_KEY], URI, `${name}: the older flat key too`);
      }
      const view = tools.get('get_run_view')!;
      assert.deepEqual(view._meta?.ui, { resourceUri: URI, visibility: ['app'] });
      assert.equal(isToolVisibilityAppOnly(view), true);
      // The app acts through the ordinary tools: none of them is kept from it.
      for (const name of ['approve_step', 'cancel_run', 'send_message', 'get_run_history', ...WITH_APP]) {
        assert.equal(isToolVisibilityModelOnly(tools.get(name)!), false, name);
        assert.equal(isToolVisibilityAppOnly(tools.get(name)!), false, name);
      }
      assert.ok(view.outputSchema && view.annotations?.readOnlyHint === true);
    });

    it(`${label}: resources/read serves one self-contained HTML page under a strict CSP`, async () => {
      const listed = await client().listResources();
      const entry = listed.resources.find((r) => r.uri === URI);
      assert.ok(entry, JSON.stringify(listed.resources));
      assert.equal(entry.mimeType, RESOURCE_MIME_TYPE);
      assert.equal(RESOURCE_MIME_TYPE, 'text/html;profile=mcp-app');

      const read = await client().readResource({ uri: URI });
      assert.equal(read.contents.length, 1);
      const content = read.contents[0]!;
      assert.equal(content.uri, URI);
      assert.equal(content.mimeType, 'text/html;profile=mcp-app');
      assert.deepEqual((content._meta as any)?.ui?.csp, {}, 'no network origin declared');
      assert.ok('text' in content);
      const html = content.text;
      assert.match(html, /^<!doctype html>/i);

      // Nothing from elsewhere: no external script, stylesheet, image, frame or link.
      assert.doesNotMatch(html, /\b(src|href|action)\s*=\s*["']?\s*(https?:)?\/\//i);
      assert.doesNotMatch(html, /<script[^>]*\bsrc\s*=/i);
      assert.doesNotMatch(html, /<link\b/i);

      // The CSP allows exactly the one inline script and the one inline style, by hash, and no network.
      const csp = /<meta http-equiv="Content-Security-Policy" content="([^"]+)">/.exec(html)?.[1];
      assert.ok(csp, 'a CSP <meta>');
      const directives = new Map(csp.split(';').map((d) => d.trim().split(/\s+/)).map(([k, ...v]) => [k!, v]));
      assert.deepEqual(directives.get('default-src'), ["'none'"]);
      assert.deepEqual(directives.get('connect-src'), ["'none'"]);
      const scripts = [...html.matchAll(/<script>([\s\S]*?)<\/script>/g)].map((m) => m[1]!);
      const styles = [...html.matchAll(/<style>([\s\S]*?)<\/style>/g)].map((m) => m[1]!);
      assert.equal(scripts.length, 1);
      assert.equal(styles.length, 1);
      assert.doesNotMatch(styles[0]!, /@import|url\(/i, 'the stylesheet loads nothing');
      const sha = (text: string) => `'sha256-${createHash('sha256').update(text, 'utf8').digest('base64')}'`;
      assert.deepEqual(directives.get('script-src'), [sha(scripts[0]!)]);
      assert.deepEqual(directives.get('style-src'), [sha(styles[0]!)]);
      assert.ok(!csp.includes('unsafe-'), csp);
    });
  }

  it('hosts without Apps get the same results: text is the structuredContent, nothing else added', async () => {
    const c = stdio.get('legacy')!.client;
    const tools = new Map<string, Tool>((await c.listTools()).tools.map((t) => [t.name, t]));
    const script = `app-plain-${uniq}`;
    model.script(script, [{ content: 'plain answer' }]);
    const started = (await c.callTool({ name: 'start_agent_run', arguments: { task: `Answer [script:${script}]` } })) as CallToolResult;
    validateStructured(tools.get('start_agent_run'), started);
    assert.deepEqual(Object.keys(started).sort(), ['content', 'structuredContent']);
    assert.deepEqual(Object.keys(started.structuredContent!).sort(), ['created', 'runId', 'status']);
    const runId = (started.structuredContent as { runId: string }).runId;
    const done = (await c.callTool({ name: 'get_run_result', arguments: { runId, waitSeconds: 30 } }, { timeout: 60_000 })) as CallToolResult;
    validateStructured(tools.get('get_run_result'), done);
    assert.deepEqual(Object.keys(done).sort(), ['content', 'structuredContent']);
    assert.equal(resultText(done), JSON.stringify(done.structuredContent, null, 2));
    const status = (await c.callTool({ name: 'get_run_status', arguments: { runId } })) as CallToolResult;
    validateStructured(tools.get('get_run_status'), status);
    const listed = (await c.callTool({ name: 'list_runs', arguments: {} })) as CallToolResult;
    validateStructured(tools.get('list_runs'), listed);
    assert.deepEqual(Object.keys(listed).sort(), ['content', 'structuredContent']);
  });

  it('get_run_view: what get_run_status and get_run_history show, redacted, for the owner only', async () => {
    const alice = (await connectHttpClient(httpUrl, ALICE, 'modern', 'app-alice')).client;
    const bob = (await connectHttpClient(httpUrl, BOB, 'legacy', 'app-bob')).client;
    try {
      const tools = new Map<string, Tool>((await alice.listTools()).tools.map((t) => [t.name, t]));
      const call = async (c: Client, name: string, args: Record<string, unknown>) => (await c.callTool({ name, arguments: args })) as CallToolResult;
      const script = `app-view-${uniq}`;
      model.script(script, [
        { toolCalls: [{ name: 'http_request', arguments: { method: 'POST', url: `${sink.url}/app-view`, headers: { Authorization: `Bearer ${SECRET}` }, body: 'x' } }] },
        { content: 'done' },
      ]);
      const started = await call(alice, 'start_agent_run', { task: `Post it [script:${script}]` });
      const runId = (started.structuredContent as { runId: string }).runId;
      await waitFor('the run to wait for approval', async () => ((await call(alice, 'get_run_status', { runId })).structuredContent as any)?.status === 'waiting_for_approval');

      const view = await call(alice, 'get_run_view', { runId });
      validateStructured(tools.get('get_run_view'), view);
      const sc = view.structuredContent as any;
      const status = (await call(alice, 'get_run_status', { runId })).structuredContent as any;
      assert.deepEqual({ ...sc.status, updatedAt: undefined }, { ...status, updatedAt: undefined });
      assert.equal(sc.status.pendingApprovals[0].arguments.headers.Authorization, '[redacted]');
      const history = (await call(alice, 'get_run_history', { runId, limit: 200 })).structuredContent as any;
      assert.deepEqual(sc.entries, history.entries);
      assert.equal(sc.next, history.entries.length);
      assert.equal(sc.more, false);
      assert.ok(!JSON.stringify(sc).includes(SECRET), 'no credential in the view');

      // Polling from `next` gets only what is new: nothing, while the run waits.
      const again = (await call(alice, 'get_run_view', { runId, since: sc.next })).structuredContent as any;
      assert.deepEqual(again.entries, []);
      assert.equal(again.next, sc.next);

      // Another principal's run is refused exactly like an unknown one, as get_run_status does.
      const theirs = await call(bob, 'get_run_view', { runId });
      const theirStatus = await call(bob, 'get_run_status', { runId });
      const unknown = await call(bob, 'get_run_view', { runId: `${runId}-nope` });
      assert.equal(theirs.isError, true);
      assert.equal(resultText(theirs), resultText(theirStatus));
      assert.equal(resultText(theirs), resultText(unknown).replace(`${runId}-nope`, runId));
      assert.ok(!JSON.stringify(theirs).includes('Post it'), 'nothing of the run leaks');

      await call(alice, 'cancel_run', { runId });
    } finally {
      await Promise.all([alice.close(), bob.close()].map((p) => p.catch(() => undefined)));
    }
  });
});
