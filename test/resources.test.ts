/**
 * Runs as resources through the built CLI, in both protocol eras: the run:// templates, the caller's
 * recent runs in resources/list, reads of open and closed runs (and their history) with the 2026-07-28
 * cache hints, unknown runs as "not found", and live updates: 2025-11-25 resources/subscribe over stdio
 * and HTTP sessions, 2026-07-28 subscriptions/listen with resourceSubscriptions over stdio and HTTP.
 */
import assert from 'node:assert/strict';
import type { ChildProcess } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { after, before, describe, it } from 'node:test';
import { Client, StreamableHTTPClientTransport, type CallToolResult } from '@modelcontextprotocol/client';
import { eraClientOptions, type Era } from './support/eraClients.js';
import { spawnServer, type SpawnedServer } from './support/mcpStdio.js';
import { startModelServer, type ModelServer } from './support/modelServer.js';
import { envelope, modernHeaders, modernRequest, parseRpcBody, RawStdio, type RpcMessage } from './support/rawRpc.js';
import { serverEnv, startHttpCli } from './support/serverEnv.js';
import { startSinkServer, type SinkServer } from './support/sinkServer.js';
import { startDevServer, type DevServer } from './support/temporal.js';
import { waitFor } from './support/wait.js';

const TOKEN = 'resources-token-0123456789ab';
/** A second principal on the same HTTP server: it must not see the first one's runs. */
const OTHER_TOKEN = 'resources-other-0123456789ab';

describe('runs as resources, with live updates', { timeout: 4 * 60_000, concurrency: true }, () => {
  let dev: DevServer;
  let model: ModelServer;
  let sink: SinkServer;
  let http: ChildProcess;
  let url: string;
  const uniq = `${process.pid}-${Date.now().toString(36)}`;
  const homes: string[] = [];
  const closers: (() => Promise<unknown>)[] = [];

  function env(): Record<string, string | undefined> {
    const home = fs.mkdtempSync(path.join(os.tmpdir(), 'da-res-'));
    homes.push(home);
    return serverEnv({ temporalAddress: dev.address, modelUrl: model.baseUrl, home, taskQueue: `res-${uniq}` });
  }

  async function stdioClient(era: Era): Promise<SpawnedServer> {
    const server = await spawnServer({ args: ['--no-service', '--no-worker'], env: env(), clientInfo: { name: `res-${era}`, version: '1' }, clientOptions: eraClientOptions(era) });
    closers.push(() => server.close());
    return server;
  }

  async function httpClient(era: Era, token = TOKEN): Promise<Client> {
    const client = new Client({ name: `res-http-${era}`, version: '1' }, eraClientOptions(era));
    await client.connect(new StreamableHTTPClientTransport(new URL(url), { requestInit: { headers: { Authorization: `Bearer ${token}` } } }), { timeout: 30_000 });
    closers.push(() => client.close());
    return client;
  }

  before(async () => {
    [dev, model, sink] = await Promise.all([startDevServer(), startModelServer(), startSinkServer()]);
    const home = fs.mkdtempSync(path.join(os.tmpdir(), 'da-res-tokens-'));
    homes.push(home);
    const tokensFile = path.join(home, 'tokens.json');
    fs.writeFileSync(tokensFile, JSON.stringify({ alice: TOKEN, bob: OTHER_TOKEN }), { mode: 0o600 });
    ({ child: http, url } = await startHttpCli({ ...env(), DURABLE_AGENT_TOKENS_FILE: tokensFile }));
  });

  after(async () => {
    for (const close of closers) await close().catch(() => undefined);
    http?.kill('SIGKILL');
    await Promise.all([dev?.stop(), model?.close(), sink?.close()].map((p) => p?.catch(() => undefined)));
    for (const home of homes) fs.rmSync(home, { recursive: true, force: true });
  });

  /** A run that waits for approval of a POST to the sink, then answers. */
  function approvalScript(name: string): { script: string; postPath: string } {
    const script = `res-${name}-${uniq}`;
    const postPath = `/res/${script}`;
    model.script(script, [
      { toolCalls: [{ name: 'http_request', arguments: { method: 'POST', url: `${sink.url}${postPath}`, body: 'x' } }] },
      { content: `done ${script}` },
    ]);
    return { script, postPath };
  }

  const call = async (client: Client, name: string, args: Record<string, unknown>): Promise<any> =>
    ((await client.callTool({ name, arguments: args }, { timeout: 60_000 })) as CallToolResult).structuredContent;

  for (const era of ['modern', 'legacy'] as const) {
    it(`${era} over stdio: templates, the caller's runs in resources/list, reads of an open and a closed run and its history`, async () => {
      const { client } = await stdioClient(era);
      const templates = await client.listResourceTemplates();
      assert.deepEqual(
        templates.resourceTemplates.map((t) => t.uriTemplate).sort(),
        ['run://{runId}', 'run://{runId}/history'],
      );
      const { script } = approvalScript(`read-${era}`);
      const runId: string = (await call(client, 'start_agent_run', { task: `Read me [script:${script}]` })).runId;
      await waitFor('the run to wait for approval', async () => (await call(client, 'get_run_status', { runId })).status === 'waiting_for_approval');

      const listed = await client.listResources();
      const entry = listed.resources.find((r) => r.uri === `run://${runId}`);
      assert.ok(entry, JSON.stringify(listed.resources.slice(0, 5)));
      assert.equal(entry.mimeType, 'application/json');
      assert.match(entry.title ?? '', /Read me/);

      const open = await client.readResource({ uri: `run://${runId}` });
      const status = JSON.parse((open.contents[0] as { text: string }).text);
      assert.equal(status.runId, runId);
      assert.equal(status.status, 'waiting_for_approval');
      assert.equal(status.pendingApprovals.length, 1);
      assert.equal(status.owner, undefined, 'the owner never shows');

      await call(client, 'approve_step', { runId, approvalId: status.pendingApprovals[0].approvalId, decision: 'approve' });
      await call(client, 'get_run_result', { runId, waitSeconds: 30 });
      const closed = JSON.parse(((await client.readResource({ uri: `run://${runId}` })).contents[0] as { text: string }).text);
      assert.equal(closed.status, 'completed');
      const history = JSON.parse(((await client.readResource({ uri: `run://${runId}/history` })).contents[0] as { text: string }).text);
      assert.equal(history.runId, runId);
      assert.ok(history.entries.some((e: any) => e.kind === 'approval' && e.decision === 'approve'), JSON.stringify(history.entries));

      // Resource not found: -32602 in the SDK v2 (the 2026-07-28 code), -32002 in older servers.
      await assert.rejects(client.readResource({ uri: `run://no-such-run-${uniq}` }), (err: any) => [-32002, -32602].includes(err.code) && /not found/i.test(err.message));
    });
  }

  it('2026-07-28 raw over stdio: reads carry cache hints (an open run 0, a closed one kept); lists too', async () => {
    const raw = RawStdio.spawn(['--no-service', '--no-worker'], env());
    closers.push(() => raw.close());
    model.script(`res-hints-${uniq}`, [{ content: 'quick' }]);
    const started = await raw.request(modernRequest(1, 'tools/call', { name: 'start_agent_run', arguments: { task: `Hints [script:res-hints-${uniq}]` } }));
    const runId = started.result!.structuredContent.runId as string;
    const list = await raw.request(modernRequest(2, 'resources/list'));
    assert.deepEqual([list.result?.ttlMs, list.result?.cacheScope], [0, 'private'], JSON.stringify(list.result).slice(0, 300));
    const templates = await raw.request(modernRequest(3, 'resources/templates/list'));
    assert.deepEqual([templates.result?.ttlMs, templates.result?.cacheScope], [3_600_000, 'public']);
    await waitFor('the run to close', async () => {
      const read = await raw.request(modernRequest(`r-${Date.now()}`, 'resources/read', { uri: `run://${runId}` }));
      return JSON.parse(read.result!.contents[0].text).status === 'completed';
    });
    const closed = await raw.request(modernRequest(4, 'resources/read', { uri: `run://${runId}` }));
    assert.deepEqual([closed.result?.ttlMs, closed.result?.cacheScope], [3_600_000, 'private']);
  });

  for (const transport of ['stdio', 'http'] as const) {
    it(`2025-11-25 over ${transport}: resources/subscribe brings notifications/resources/updated as the run moves; unsubscribe is accepted`, async () => {
      const client = transport === 'stdio' ? (await stdioClient('legacy')).client : await httpClient('legacy');
      const updated: string[] = [];
      client.setNotificationHandler('notifications/resources/updated', (n) => void updated.push(n.params.uri));
      const { script, postPath } = approvalScript(`sub-${transport}`);
      const runId: string = (await call(client, 'start_agent_run', { task: `Watch me [script:${script}]` })).runId;
      const uri = `run://${runId}`;
      await client.subscribeResource({ uri });
      await assert.rejects(client.subscribeResource({ uri: `run://no-such-${uniq}` }), (err: any) => [-32002, -32602].includes(err.code) && /not found/i.test(err.message));
      // The run may reach its approval before or after the subscription: read it, then move it on.
      await waitFor('the run to wait for approval', async () => (await call(client, 'get_run_status', { runId })).status === 'waiting_for_approval');
      const status = JSON.parse(((await client.readResource({ uri })).contents[0] as { text: string }).text);
      assert.equal(status.status, 'waiting_for_approval');
      const before = updated.length;
      await call(client, 'approve_step', { runId, approvalId: status.pendingApprovals[0].approvalId, decision: 'approve' });
      await waitFor('updates while the run goes on and when it closes', async () => {
        if (updated.length === before || !updated.includes(uri)) return false;
        return JSON.parse(((await client.readResource({ uri })).contents[0] as { text: string }).text).status === 'completed';
      });
      assert.equal(sink.requests().filter((r) => r.path === postPath).length, 1);
      await client.unsubscribeResource({ uri });
    });

    it(`2026-07-28 over ${transport}: subscriptions/listen with resourceSubscriptions acknowledges the caller's runs and sends updates`, async () => {
      const { script } = approvalScript(`listen-${transport}`);
      const seen: RpcMessage[] = [];
      let send: (m: RpcMessage) => Promise<RpcMessage | void>;
      let stop = () => {};
      if (transport === 'stdio') {
        const raw = RawStdio.spawn(['--no-service', '--no-worker'], env());
        closers.push(() => raw.close());
        send = (m) => (m.method === 'subscriptions/listen' ? Promise.resolve(raw.send(m)) : raw.request(m));
        const poll = setInterval(() => seen.splice(0, seen.length, ...raw.messages), 100);
        stop = () => clearInterval(poll);
      } else {
        const abort = new AbortController();
        stop = () => abort.abort();
        send = async (m) => {
          const res = await fetch(url, { method: 'POST', headers: { ...modernHeaders(m), authorization: `Bearer ${TOKEN}` }, body: JSON.stringify(m), signal: m.method === 'subscriptions/listen' ? abort.signal : null });
          if (m.method !== 'subscriptions/listen') return parseRpcBody(res.headers.get('content-type') ?? '', await res.text())[0];
          void (async () => {
            const reader = res.body!.getReader();
            let text = '';
            for (;;) {
              const { value, done } = await reader.read().catch(() => ({ value: undefined, done: true }));
              if (done) return;
              text += Buffer.from(value!).toString('utf8');
              seen.splice(0, seen.length, ...parseRpcBody('text/event-stream', text.slice(0, text.lastIndexOf('\n\n') + 2)));
            }
          })();
        };
      }
      const started = (await send(modernRequest(1, 'tools/call', { name: 'start_agent_run', arguments: { task: `Listen [script:${script}]` } }))) as RpcMessage;
      const runId = started.result!.structuredContent.runId as string;
      const uri = `run://${runId}`;
      await send(modernRequest('sub', 'subscriptions/listen', { notifications: { resourceSubscriptions: [uri, `run://no-such-${uniq}`] } }, envelope('res-listen')));
      const mine = (m: RpcMessage) => m.params?._meta?.['io.modelcontextprotocol/subscriptionId'] === 'sub';
      await waitFor('the acknowledgement', () => seen.some((m) => m.method === 'notifications/subscriptions/acknowledged' && mine(m)));
      const ack = seen.find((m) => m.method === 'notifications/subscriptions/acknowledged' && mine(m))!;
      assert.deepEqual(ack.params?.notifications, { resourceSubscriptions: [uri] });
      // Move the run on: its approval, decided.
      let approvalId: string | undefined;
      await waitFor('the run to wait for approval', async () => {
        const status = (await send(modernRequest(`s-${Date.now()}`, 'tools/call', { name: 'get_run_status', arguments: { runId } }))) as RpcMessage;
        approvalId = status.result?.structuredContent?.pendingApprovals?.[0]?.approvalId;
        return approvalId !== undefined;
      });
      await send(modernRequest('ap', 'tools/call', { name: 'approve_step', arguments: { runId, approvalId, decision: 'approve' } }));
      await waitFor('notifications/resources/updated for the run', () => seen.some((m) => m.method === 'notifications/resources/updated' && m.params?.uri === uri && mine(m)));
      stop();
    });
  }

  it('over HTTP, another principal\'s run is not there: not listed, not readable, not subscribable, not acknowledged', async () => {
    const alice = await httpClient('legacy');
    const bob = await httpClient('legacy', OTHER_TOKEN);
    const bobModern = await httpClient('modern', OTHER_TOKEN);
    model.script(`res-owner-${uniq}`, [{ content: 'mine' }]);
    const runId: string = (await call(alice, 'start_agent_run', { task: `Alice's [script:res-owner-${uniq}]` })).runId;
    const uri = `run://${runId}`;
    await waitFor('alice to see her run listed', async () => (await alice.listResources()).resources.some((r) => r.uri === uri));
    for (const client of [bob, bobModern]) {
      assert.equal((await client.listResources()).resources.some((r) => r.uri === uri), false, 'not in the other principal\'s list');
      for (const target of [uri, `${uri}/history`]) {
        await assert.rejects(client.readResource({ uri: target }), (err: any) => /not found/i.test(err.message), target);
      }
    }
    await assert.rejects(bob.subscribeResource({ uri }), (err: any) => /not found/i.test(err.message));
    const listen = modernRequest('bob-listen', 'subscriptions/listen', { notifications: { resourceSubscriptions: [uri] } }, envelope('bob'));
    const res = await fetch(url, { method: 'POST', headers: { ...modernHeaders(listen), authorization: `Bearer ${OTHER_TOKEN}` }, body: JSON.stringify(listen) });
    const messages = parseRpcBody(res.headers.get('content-type') ?? '', await res.text());
    assert.deepEqual(messages[0]?.params?.notifications, { resourceSubscriptions: [] }, JSON.stringify(messages));
    assert.equal(messages[1]?.id, 'bob-listen', 'nothing honored: the listen ends at once');
  });
});
