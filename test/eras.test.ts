/**
 * Both protocol eras through the built CLI. The SDK's own v2 client, pinned to 2026-07-28 and in its
 * default legacy (initialize) mode, drives every tool over stdio (`--no-service`) and over Streamable
 * HTTP — the four combinations at once, against one dev server, one model server and one sink. Then
 * raw JSON-RPC, no client library: `server/discover`, cache hints and tool order, removed methods and
 * `subscriptions/listen` over stdio; a fresh process per legacy `initialize` version; and over HTTP the
 * standard headers and their error codes, the legacy session with progress, and token, Origin and Host
 * checks for both eras.
 *
 * The HTTP server runs the worker; the stdio servers share its task queue with `--no-worker`, so the
 * runs of all four combinations are executed by one worker.
 */
import assert from 'node:assert/strict';
import { randomUUID } from 'node:crypto';
import type { ChildProcess } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { after, before, describe, it } from 'node:test';
import type { CallToolResult, Client, JSONRPCMessage, Progress, Tool } from '@modelcontextprotocol/client';
import { connectHttpClient, eraClientOptions, recordIncoming, type Era } from './support/eraClients.js';
import { resultText, spawnServer, validateStructured, type SpawnedServer } from './support/mcpStdio.js';
import { startModelServer, type ModelServer } from './support/modelServer.js';
import { envelope, MODERN, modernHeaders, modernRequest, parseRpcBody, rawHttp, RawStdio, type RpcMessage } from './support/rawRpc.js';
import { startSinkServer, type SinkServer } from './support/sinkServer.js';
import { serverEnv, startHttpCli } from './support/serverEnv.js';
import { startDevServer, type DevServer } from './support/temporal.js';
import { sleep } from './support/wait.js';

/** The order createServer registers the tools in, which tools/list must keep (get_run_view: the run app's, visibility ["app"]). */
const TOOL_ORDER = ['start_agent_run', 'get_run_status', 'approve_step', 'cancel_run', 'list_runs', 'get_run_result', 'send_message', 'get_run_history', 'get_run_view'];
const LEGACY_VERSIONS = ['2025-11-25', '2025-06-18', '2025-03-26'];
const TOKEN = 'eras-token-0123456789abcdef';
const JSON_HEADERS = { 'content-type': 'application/json', accept: 'application/json, text/event-stream' };
const AUTH = { authorization: `Bearer ${TOKEN}` };
/** The principal of stdio and of the single --token: the local user (see src/server/principal.ts). */
const PRINCIPAL = (() => {
  try {
    return os.userInfo().username || 'local';
  } catch {
    return 'local';
  }
})();

type Transport = 'stdio' | 'http';
interface Connection {
  transport: Transport;
  era: Era;
  /** The client's name, which the server records as who decided and who sent a message. */
  name: string;
  client: Client;
  incoming: JSONRPCMessage[];
  stdio?: SpawnedServer;
}

function legacyInitialize(id: number | string, protocolVersion: string, name = 'raw-legacy'): RpcMessage {
  return { jsonrpc: '2.0', id, method: 'initialize', params: { protocolVersion, capabilities: {}, clientInfo: { name, version: '1.0.0' } } };
}

describe('protocol eras through the built CLI', { timeout: 4 * 60_000, concurrency: true }, () => {
  let dev: DevServer;
  let model: ModelServer;
  let sink: SinkServer;
  let httpServer: ChildProcess;
  let httpStderr = '';
  let url: string;
  const uniq = `${process.pid}-${Date.now().toString(36)}`;
  const homes: string[] = [];
  const connections = new Map<string, Connection>();
  const raws: RawStdio[] = [];

  function env(extra: Record<string, string | undefined> = {}): Record<string, string | undefined> {
    const home = fs.mkdtempSync(path.join(os.tmpdir(), 'da-eras-'));
    homes.push(home);
    return serverEnv({ temporalAddress: dev.address, modelUrl: model.baseUrl, home, taskQueue: `eras-${uniq}` }, extra);
  }

  /** A raw stdio process of the CLI (no worker: the HTTP server's runs the runs). */
  function rawStdio(): RawStdio {
    const raw = RawStdio.spawn(['--no-service', '--no-worker'], env());
    raws.push(raw);
    return raw;
  }

  async function startHttpServer(): Promise<void> {
    ({ child: httpServer, url } = await startHttpCli(env({ DURABLE_AGENT_TOKEN: TOKEN }), (text) => (httpStderr += text)));
  }

  async function connectStdio(era: Era): Promise<Connection> {
    const name = `eras-stdio-${era}`;
    const stdio = await spawnServer({ args: ['--no-service', '--no-worker'], env: env(), clientInfo: { name, version: '1.0.0' }, clientOptions: eraClientOptions(era) });
    return { transport: 'stdio', era, name, client: stdio.client, incoming: recordIncoming(stdio.transport), stdio };
  }

  async function connectHttp(era: Era): Promise<Connection> {
    const name = `eras-http-${era}`;
    const { client, transport } = await connectHttpClient(url, TOKEN, era, name);
    return { transport: 'http', era, name, client, incoming: recordIncoming(transport) };
  }

  before(async () => {
    [dev, model, sink] = await Promise.all([startDevServer(), startModelServer(), startSinkServer()]);
    const stdioConnections = Promise.all([connectStdio('modern'), connectStdio('legacy')]);
    await startHttpServer();
    const all = [...(await stdioConnections), ...(await Promise.all([connectHttp('modern'), connectHttp('legacy')]))];
    for (const c of all) connections.set(`${c.transport}-${c.era}`, c);
  });

  after(async () => {
    for (const c of connections.values()) await (c.stdio ? c.stdio.close() : c.client.close()).catch(() => undefined);
    await Promise.all(raws.map((r) => r.close().catch(() => undefined)));
    httpServer?.kill('SIGKILL');
    await Promise.all([dev?.stop(), model?.close(), sink?.close()].map((p) => p?.catch(() => undefined)));
    for (const home of homes) fs.rmSync(home, { recursive: true, force: true });
  });

  // ---- The SDK's v2 client, each era over each transport: every tool. ----

  for (const transport of ['stdio', 'http'] as const) {
    for (const era of ['modern', 'legacy'] as const) {
      it(`${era === 'modern' ? '2026-07-28 (pinned)' : 'legacy'} client over ${transport}: every tool, progress while get_run_result waits`, async () => {
        await everyTool(connections.get(`${transport}-${era}`)!);
      });
    }
  }

  async function everyTool(conn: Connection): Promise<void> {
    const { client, era, name } = conn;
    const tag = `${conn.transport}-${era}-${uniq}`;

    // The era the connection landed on.
    assert.equal(client.getProtocolEra(), era);
    if (era === 'modern') {
      assert.equal(client.getNegotiatedProtocolVersion(), MODERN);
      assert.ok(client.getDiscoverResult()?.supportedVersions.includes(MODERN), JSON.stringify(client.getDiscoverResult()));
    } else {
      assert.equal(client.getDiscoverResult(), undefined, 'a legacy connection never ran server/discover');
      assert.match(client.getNegotiatedProtocolVersion() ?? '', /^2025-/);
    }

    const listed = await client.listTools();
    assert.deepEqual(
      listed.tools.map((t) => t.name),
      TOOL_ORDER,
    );
    const tools = new Map<string, Tool>(listed.tools.map((t) => [t.name, t]));

    /** A successful call: structuredContent checked against the tool's outputSchema. */
    const call = async (tool: string, args: Record<string, unknown>, onprogress?: (p: Progress) => void): Promise<any> => {
      const result = (await client.callTool({ name: tool, arguments: args }, { timeout: 60_000, ...(onprogress ? { onprogress } : {}) })) as CallToolResult;
      validateStructured(tools.get(tool), result);
      return result.structuredContent;
    };
    const pollStatus = async (runId: string, what: string, done: (s: any) => boolean): Promise<any> => {
      const deadline = Date.now() + 30_000;
      for (;;) {
        const status = await call('get_run_status', { runId });
        assert.equal(status.runId, runId);
        if (done(status)) return status;
        if (Date.now() > deadline) assert.fail(`${name}: run ${runId} never became ${what}; last status ${JSON.stringify(status)}`);
        await sleep(300);
      }
    };
    const posts = (p: string) => sink.requests().filter((r) => r.method === 'POST' && r.path === p).length;

    // start → waiting_for_approval → send_message → approve_step → get_run_result (completed, with progress).
    const approved = async (): Promise<string> => {
      const script = `eras-a-${tag}`;
      const postPath = `/eras/${tag}/approved`;
      const note = `a note from ${name}`;
      model.script(script, [
        { toolCalls: [{ name: 'http_request', arguments: { method: 'POST', url: `${sink.url}${postPath}`, body: 'x' } }] },
        // The last turn takes 5 s, so get_run_result waits through at least two progress slices.
        { delayMs: 5_000, then: { content: `done over ${name}` } },
      ]);
      const started = await call('start_agent_run', { task: `Post once [script:${script}]` });
      assert.equal(started.created, true);
      const runId: string = started.runId;
      const waiting = await pollStatus(runId, 'waiting_for_approval', (s) => s.status === 'waiting_for_approval' && s.pendingApprovals.length === 1);
      const approvalId: string = waiting.pendingApprovals[0].approvalId;
      assert.equal(posts(postPath), 0, 'nothing is sent before the approval');

      const sent = await call('send_message', { runId, message: note });
      assert.equal(sent.runId, runId);
      assert.equal(sent.delivered, true);
      const decided = await call('approve_step', { runId, approvalId, decision: 'approve' });
      assert.deepEqual([decided.runId, decided.approvalId, decided.decision], [runId, approvalId, 'approve']);

      const progress: Progress[] = [];
      const final = await call('get_run_result', { runId, waitSeconds: 40 }, (p) => progress.push(p));
      assert.equal(final.status, 'completed', JSON.stringify(final));
      assert.equal(final.result, `done over ${name}`);
      assert.ok(progress.length >= 1, `${name}: no progress notification while get_run_result waited`);
      for (const [i, p] of progress.entries()) {
        assert.equal(p.total, 40);
        assert.match(p.message ?? '', /^run is /);
        if (i > 0) assert.ok(p.progress > progress[i - 1]!.progress, `progress must increase: ${JSON.stringify(progress)}`);
      }
      assert.equal(posts(postPath), 1, 'the approved POST ran exactly once');
      const lastTurn = model.requests(script).at(-1);
      assert.ok(JSON.stringify(lastTurn?.messages).includes(note), `${name}: the model never saw the message sent with send_message`);

      const history = await call('get_run_history', { runId });
      assert.equal(history.runId, runId);
      const approval = history.entries.find((e: any) => e.kind === 'approval');
      assert.deepEqual([approval?.approvalId, approval?.decision, approval?.by], [approvalId, 'approve', `${PRINCIPAL} via ${name}`]);
      assert.equal(history.entries.find((e: any) => e.kind === 'message')?.by, `${PRINCIPAL} via ${name}`);
      assert.ok(history.entries.some((e: any) => e.kind === 'closed'), JSON.stringify(history.entries));
      return runId;
    };

    // start (idempotent) → waiting_for_approval → cancel_run → cancelled; cancelling again reports it.
    const cancelled = async (): Promise<string> => {
      const script = `eras-b-${tag}`;
      const postPath = `/eras/${tag}/cancelled`;
      model.script(script, [{ toolCalls: [{ name: 'http_request', arguments: { method: 'POST', url: `${sink.url}${postPath}`, body: 'x' } }] }]);
      const args = { task: `Wait to be cancelled [script:${script}]`, idempotencyKey: `eras-b-${tag}` };
      const first = await call('start_agent_run', args);
      const again = await call('start_agent_run', args);
      assert.deepEqual([again.runId, again.created], [first.runId, false]);
      const runId: string = first.runId;
      await pollStatus(runId, 'waiting_for_approval', (s) => s.status === 'waiting_for_approval');
      const c1 = await call('cancel_run', { runId, reason: `cancelled by ${name}` });
      assert.equal(c1.runId, runId);
      const closed = await pollStatus(runId, 'cancelled', (s) => s.status === 'cancelled');
      assert.ok(closed.closedAt);
      assert.equal((await call('cancel_run', { runId })).status, 'cancelled');
      assert.equal(posts(postPath), 0);
      return runId;
    };

    const [runA, runB] = await Promise.all([approved(), cancelled()]);

    // list_runs (eventually consistent): both runs, with their final status; a status filter holds.
    const deadline = Date.now() + 30_000;
    for (;;) {
      const page = await call('list_runs', { limit: 100 });
      const a = page.runs.find((r: any) => r.runId === runA);
      const b = page.runs.find((r: any) => r.runId === runB);
      if (a?.status === 'completed' && b?.status === 'cancelled') break;
      if (Date.now() > deadline) assert.fail(`${name}: list_runs never showed both runs closed: ${JSON.stringify(page.runs.slice(0, 10))}`);
      await sleep(300);
    }
    const onlyCancelled = await call('list_runs', { status: 'cancelled', limit: 100 });
    assert.ok(onlyCancelled.runs.some((r: any) => r.runId === runB));
    for (const r of onlyCancelled.runs) assert.equal(r.status, 'cancelled');

    // Errors stay isError results with a message, in both eras.
    const unknown = (await client.callTool({ name: 'get_run_status', arguments: { runId: `no-such-run-${tag}` } })) as CallToolResult;
    assert.equal(unknown.isError, true);
    assert.match(resultText(unknown), /No run with runId/);

    // Logging follows the era's rule: a 2026-07-28 request without io.modelcontextprotocol/logLevel
    // gets no notifications/message (the 2025 era has no such rule).
    if (era === 'modern') {
      const logged = conn.incoming.filter((m) => 'method' in m && m.method === 'notifications/message');
      assert.deepEqual(logged, [], `${name} received log notifications it never asked for`);
    }
    assert.ok(
      conn.incoming.some((m) => 'method' in m && m.method === 'notifications/progress'),
      `${name}: the record of what the client received has no progress notification`,
    );
    if (conn.stdio) {
      for (const line of conn.stdio.stdoutLines()) assert.equal((JSON.parse(line) as { jsonrpc?: string }).jsonrpc, '2.0', `stdout: ${line.slice(0, 200)}`);
    }
  }

  // ---- Raw JSON-RPC over stdio. ----

  it('stdio, 2026-07-28 raw: server/discover, tools/list with cache hints in a stable order, removed methods, subscriptions/listen', async () => {
    const raw = rawStdio();
    const discover = await raw.request(modernRequest('d-1', 'server/discover'));
    const d = discover.result!;
    assert.ok(d, JSON.stringify(discover));
    assert.ok(d.supportedVersions.includes(MODERN), JSON.stringify(d.supportedVersions));
    assert.equal(d.resultType, 'complete');
    assert.ok(d.capabilities.tools, JSON.stringify(d.capabilities));
    assert.equal(d._meta['io.modelcontextprotocol/serverInfo'].name, 'durable-agent-mcp');
    assert.match(d.instructions, /start_agent_run/);
    assert.ok(Number.isInteger(d.ttlMs) && d.ttlMs >= 0 && ['public', 'private'].includes(d.cacheScope), 'server/discover carries cache hints');

    const lists = [await raw.request(modernRequest(2, 'tools/list')), await raw.request(modernRequest(3, 'tools/list'))];
    for (const list of lists) {
      const r = list.result!;
      assert.deepEqual(
        r.tools.map((t: Tool) => t.name),
        TOOL_ORDER,
      );
      assert.deepEqual([r.resultType, r.ttlMs, r.cacheScope], ['complete', 3_600_000, 'public']);
    }
    assert.deepEqual(lists[1]!.result!.tools, lists[0]!.result!.tools, 'the same listing on every call');

    const call = await raw.request(modernRequest(4, 'tools/call', { name: 'list_runs', arguments: { limit: 1 } }));
    assert.equal(call.result?.isError, undefined, JSON.stringify(call));
    assert.ok(Array.isArray(call.result?.structuredContent?.runs), JSON.stringify(call));
    assert.equal(call.result?.resultType, 'complete');

    // Methods the 2026 era removed.
    for (const [i, method] of ['ping', 'logging/setLevel'].entries()) {
      const answer = await raw.request(modernRequest(10 + i, method, method === 'logging/setLevel' ? { level: 'debug' } : {}));
      assert.equal(answer.error?.code, -32601, `${method}: ${JSON.stringify(answer)}`);
    }

    // subscriptions/listen: the acknowledgement comes first, tagged with the request id; the
    // subscription stays open (no response) and other requests are still answered.
    const from = raw.messages.length;
    raw.send(modernRequest('listen-1', 'subscriptions/listen', { notifications: { toolsListChanged: true } }));
    const during = await raw.request(modernRequest(20, 'tools/list'));
    assert.ok(during.result?.tools, JSON.stringify(during));
    const tagged = raw.messages.slice(from).filter((m) => m.params?._meta?.['io.modelcontextprotocol/subscriptionId'] === 'listen-1' || m.id === 'listen-1');
    assert.equal(tagged[0]?.method, 'notifications/subscriptions/acknowledged', JSON.stringify(tagged));
    assert.deepEqual(tagged[0]?.params?.notifications, { toolsListChanged: true });
    assert.ok(!tagged.some((m) => m.id === 'listen-1'), 'the subscription is still open');

    assert.deepEqual(raw.messages.filter((m) => m.method === 'notifications/message'), [], 'no request set a log level');
  });

  it('stdio, legacy raw: a fresh process answers initialize 2025-11-25, 2025-06-18 and 2025-03-26 as before', async () => {
    await Promise.all(
      LEGACY_VERSIONS.map(async (version) => {
        const raw = rawStdio();
        const init = await raw.request(legacyInitialize(1, version, `raw-${version}`));
        const r = init.result!;
        assert.ok(r, JSON.stringify(init));
        assert.equal(r.protocolVersion, version);
        assert.equal(r.serverInfo.name, 'durable-agent-mcp');
        assert.ok(r.capabilities.tools && r.capabilities.logging, JSON.stringify(r.capabilities));
        assert.match(r.instructions, /start_agent_run/);
        raw.send({ jsonrpc: '2.0', method: 'notifications/initialized' });

        const list = await raw.request({ jsonrpc: '2.0', id: 2, method: 'tools/list', params: {} });
        assert.deepEqual(
          list.result!.tools.map((t: Tool) => t.name),
          TOOL_ORDER,
        );
        assert.ok(list.result!.tools.every((t: Tool) => t.outputSchema && t.annotations), `${version}: outputSchema and annotations`);
        assert.deepEqual([list.result!.ttlMs, list.result!.cacheScope, list.result!.resultType], [undefined, undefined, undefined], `${version}: no 2026-era fields`);

        assert.deepEqual((await raw.request({ jsonrpc: '2.0', id: 3, method: 'ping' })).result, {});
        assert.deepEqual((await raw.request({ jsonrpc: '2.0', id: 4, method: 'logging/setLevel', params: { level: 'info' } })).result, {});
        const call = await raw.request({ jsonrpc: '2.0', id: 5, method: 'tools/call', params: { name: 'list_runs', arguments: { limit: 1 } } });
        assert.equal(call.result?.isError, undefined, JSON.stringify(call));
        assert.ok(Array.isArray(call.result?.structuredContent?.runs), JSON.stringify(call));
        assert.equal(JSON.stringify(JSON.parse(call.result!.content[0].text)), JSON.stringify(call.result!.structuredContent));
      }),
    );
  });

  // ---- Raw JSON-RPC over Streamable HTTP. ----

  it('HTTP, 2026-07-28 raw: the standard headers are required and must match the body (-32020), unknown versions get -32022, removed methods 404 + -32601', async () => {
    const list = modernRequest(1, 'tools/list');
    const ok = await rawHttp(url, list, modernHeaders(list, AUTH));
    assert.equal(ok.status, 200, ok.text);
    assert.deepEqual(
      ok.messages[0]?.result?.tools.map((t: Tool) => t.name),
      TOOL_ORDER,
    );
    assert.deepEqual([ok.messages[0]?.result?.ttlMs, ok.messages[0]?.result?.cacheScope], [3_600_000, 'public']);
    assert.equal(ok.headers['mcp-session-id'], undefined, 'no session for a 2026-07-28 request');
    // A session id is meaningless to this era: the request is served statelessly all the same.
    const withSession = await rawHttp(url, list, modernHeaders(list, { ...AUTH, 'mcp-session-id': randomUUID() }));
    assert.equal(withSession.status, 200, withSession.text);
    assert.ok(withSession.messages[0]?.result?.tools, withSession.text);
    assert.equal(withSession.headers['mcp-session-id'], undefined);

    const call = modernRequest(2, 'tools/call', { name: 'list_runs', arguments: { limit: 1 } });
    const called = await rawHttp(url, call, modernHeaders(call, AUTH));
    assert.equal(called.status, 200, called.text);
    assert.ok(Array.isArray(called.messages.at(-1)?.result?.structuredContent?.runs), called.text);
    const encoded = await rawHttp(url, call, modernHeaders(call, { ...AUTH, 'mcp-name': `=?base64?${Buffer.from('list_runs').toString('base64')}?=` }));
    assert.equal(encoded.status, 200, `a Base64-sentinel Mcp-Name is decoded before comparing: ${encoded.text}`);

    const initializeNoEnvelope = legacyInitialize(3, '2025-11-25');
    const mismatches: Array<[string, RpcMessage, Record<string, string | undefined>]> = [
      ['no MCP-Protocol-Version', list, { 'mcp-protocol-version': undefined }],
      ['MCP-Protocol-Version other than the body', list, { 'mcp-protocol-version': '2025-11-25' }],
      ['no Mcp-Method', list, { 'mcp-method': undefined }],
      ['Mcp-Method other than the body', list, { 'mcp-method': 'tools/call' }],
      ['tools/call without Mcp-Name', call, { 'mcp-name': undefined }],
      ['Mcp-Name other than the body', call, { 'mcp-name': 'cancel_run' }],
      ['initialize under a 2026-07-28 MCP-Protocol-Version', initializeNoEnvelope, { 'mcp-protocol-version': MODERN, 'mcp-method': 'initialize' }],
    ];
    for (const [what, message, headers] of mismatches) {
      const res = await rawHttp(url, message, { ...modernHeaders(message, { ...AUTH, ...headers }) });
      assert.equal(res.status, 400, `${what}: ${res.text}`);
      assert.equal(res.messages[0]?.error?.code, -32020, `${what}: ${res.text}`);
      assert.equal(res.messages[0]?.id, message.id, `${what}: the error answers the request's id`);
    }

    const old = modernRequest(4, 'tools/list', {}, envelope('raw-rpc', {}, '1900-01-01'));
    const unsupported = await rawHttp(url, old, modernHeaders(old, AUTH));
    assert.equal(unsupported.status, 400, unsupported.text);
    const error = unsupported.messages[0]?.error;
    assert.equal(error?.code, -32022, unsupported.text);
    assert.ok(error?.data?.supported?.includes(MODERN), unsupported.text);
    assert.equal(error?.data?.requested, '1900-01-01');

    const removed: RpcMessage[] = [
      modernRequest(5, 'initialize', { protocolVersion: '2025-11-25', capabilities: {}, clientInfo: { name: 'raw', version: '1' } }),
      modernRequest(6, 'ping'),
      modernRequest(7, 'logging/setLevel', { level: 'debug' }),
      modernRequest(8, 'no/such-method'),
    ];
    for (const message of removed) {
      const res = await rawHttp(url, message, modernHeaders(message, AUTH));
      assert.equal(res.status, 404, `${message.method}: ${res.text}`);
      assert.equal(res.messages[0]?.error?.code, -32601, `${message.method}: ${res.text}`);
      assert.equal(res.messages[0]?.id, message.id);
    }
  });

  it('HTTP, legacy raw: initialize gets a session that keeps working, with progress notifications on it', async () => {
    const init = await rawHttp(url, legacyInitialize(1, '2025-11-25', 'raw-legacy-http'), { ...JSON_HEADERS, ...AUTH });
    assert.equal(init.status, 200, init.text);
    assert.equal(init.messages[0]?.result?.protocolVersion, '2025-11-25');
    const session = init.headers['mcp-session-id'];
    assert.equal(typeof session, 'string', 'initialize answers with a session id');
    const headers = { ...JSON_HEADERS, ...AUTH, 'mcp-session-id': String(session), 'mcp-protocol-version': '2025-11-25' };
    assert.equal((await rawHttp(url, { jsonrpc: '2.0', method: 'notifications/initialized' }, headers)).status, 202);

    const list = await rawHttp(url, { jsonrpc: '2.0', id: 2, method: 'tools/list', params: {} }, headers);
    const listed = list.messages.at(-1)?.result;
    assert.deepEqual(
      listed?.tools.map((t: Tool) => t.name),
      TOOL_ORDER,
    );
    assert.equal(listed?.ttlMs, undefined, '2025-era results carry no cache hints');

    const script = `eras-raw-legacy-${uniq}`;
    model.script(script, [{ toolCalls: [{ name: 'http_request', arguments: { method: 'POST', url: `${sink.url}/eras/raw-legacy`, body: 'x' } }] }]);
    const tool = async (id: number, name: string, args: Record<string, unknown>, meta?: Record<string, unknown>) =>
      rawHttp(url, { jsonrpc: '2.0', id, method: 'tools/call', params: { name, arguments: args, ...(meta ? { _meta: meta } : {}) } }, headers);
    const started = await tool(3, 'start_agent_run', { task: `Wait on a raw session [script:${script}]` });
    const runId = started.messages.at(-1)?.result?.structuredContent?.runId;
    assert.equal(typeof runId, 'string', started.text);

    const waited = await tool(4, 'get_run_result', { runId, waitSeconds: 3 }, { progressToken: 'raw-progress' });
    assert.equal(waited.status, 200, waited.text);
    assert.match(String(waited.headers['content-type']), /text\/event-stream/);
    const progress = waited.messages.filter((m) => m.method === 'notifications/progress');
    assert.ok(progress.length >= 1, `progress on the session's stream: ${waited.text}`);
    for (const p of progress) assert.equal(p.params?.progressToken, 'raw-progress');
    const final = waited.messages.at(-1)!;
    assert.equal(final.id, 4, 'the result comes after the notifications');
    assert.equal(final.result?.structuredContent?.runId, runId);
    assert.ok(['running', 'waiting_for_approval'].includes(final.result?.structuredContent?.status), waited.text);

    const cancelled = await tool(5, 'cancel_run', { runId });
    assert.equal(cancelled.messages.at(-1)?.result?.structuredContent?.runId, runId, cancelled.text);
    assert.equal(sink.requests().filter((r) => r.path === '/eras/raw-legacy').length, 0, 'the unapproved POST was never sent');
    assert.equal((await rawHttp(url, undefined, headers, 'DELETE')).status, 200);
    assert.equal((await rawHttp(url, { jsonrpc: '2.0', id: 6, method: 'tools/list', params: {} }, headers)).status, 404, 'the ended session is gone');
  });

  it('HTTP: token (401), Origin (403) and Host (403) checks apply to 2026-07-28 requests exactly as to legacy ones', async () => {
    const list = modernRequest(1, 'tools/list');
    const init = legacyInitialize(1, '2025-11-25');
    const cases: Array<[string, Record<string, string>, number]> = [
      ['no token', {}, 401],
      ['a wrong token', { authorization: 'Bearer wrong-token-0123456789abcdef' }, 401],
      ['a foreign Origin', { ...AUTH, origin: 'https://evil.example' }, 403],
      ['a foreign Host (DNS rebinding)', { ...AUTH, host: 'evil.example' }, 403],
      ['a loopback Origin', { ...AUTH, origin: 'http://localhost:5173' }, 200],
    ];
    for (const [what, extra, status] of cases) {
      const modern = await rawHttp(url, list, modernHeaders(list, extra));
      const legacy = await rawHttp(url, init, { ...JSON_HEADERS, ...extra });
      assert.equal(modern.status, status, `2026-07-28 with ${what}: ${modern.text}`);
      assert.equal(legacy.status, status, `legacy with ${what}: ${legacy.text}`);
      if (status !== 200) {
        assert.deepEqual(modern.messages, legacy.messages, `${what}: the same JSON-RPC error for both eras`);
        assert.equal(modern.headers['www-authenticate'], legacy.headers['www-authenticate']);
      } else {
        assert.ok(modern.messages[0]?.result?.tools, modern.text);
      }
    }
  });

  it('HTTP: subscriptions/listen answers with its acknowledgement first, tagged with the subscription id, and stays open', async () => {
    const listen = modernRequest('listen-http', 'subscriptions/listen', { notifications: { toolsListChanged: true } });
    const abort = new AbortController();
    const res = await fetch(url, { method: 'POST', headers: modernHeaders(listen, AUTH), body: JSON.stringify(listen), signal: abort.signal });
    try {
      assert.equal(res.status, 200);
      assert.match(res.headers.get('content-type') ?? '', /text\/event-stream/);
      const reader = res.body!.getReader();
      let text = '';
      while (!/\r?\n\r?\n/.test(text)) {
        const chunk = await reader.read();
        if (chunk.done) break;
        text += Buffer.from(chunk.value).toString('utf8');
      }
      const [ack] = parseRpcBody('text/event-stream', text);
      assert.equal(ack?.method, 'notifications/subscriptions/acknowledged', text);
      assert.equal(ack?.params?._meta?.['io.modelcontextprotocol/subscriptionId'], 'listen-http');
      assert.deepEqual(ack?.params?.notifications, { toolsListChanged: true });
      // Nothing else, and no response: the stream stays open until one side closes it.
      const more = reader.read().then(
        (c) => (c.done ? 'closed' : Buffer.from(c.value).toString('utf8')),
        () => 'aborted', // by the abort below, once the race is over
      );
      const next = await Promise.race([more, sleep(500).then(() => 'open')]);
      assert.equal(next, 'open', `the listen stream went on with: ${next}`);
    } finally {
      abort.abort();
    }
    assert.equal(httpServer.exitCode, null, `the HTTP server is still up; stderr:\n${httpStderr.slice(-2000)}`);
  });
});
