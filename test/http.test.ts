/**
 * Streamable HTTP end to end: the built CLI with `--transport http --token … --tokens-file …`, driven by
 * the MCP SDK's Streamable HTTP client and by raw fetches. Auth, principals and their sessions, the tokens
 * file's reload, Origin and Host, /healthz, several clients, a client that leaves mid-wait, body errors,
 * session cap and idle expiry, listen errors, refusal to bind beyond loopback without a token, and a
 * graceful SIGTERM.
 */
import assert from 'node:assert/strict';
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import fs from 'node:fs';
import http from 'node:http';
import os from 'node:os';
import path from 'node:path';
import { after, before, describe, it } from 'node:test';
import { Client, StreamableHTTPClientTransport } from '@modelcontextprotocol/client';
import type { CallToolResult } from '@modelcontextprotocol/client';
import { startModelServer, type ModelServer } from './support/modelServer.js';
import { startSinkServer, type SinkServer } from './support/sinkServer.js';
import { cliPath } from './support/mcpStdio.js';
import { modernHeaders, modernRequest } from './support/rawRpc.js';
import { runHelpers } from './support/runs.js';
import { processesMentioning } from './support/service.js';
import { freePort, startDevServer, temporalCliPath, type DevServer } from './support/temporal.js';
import { sleep, waitFor } from './support/wait.js';

const TOKEN = 'test-token-0123456789abcdef';
const ALICE = 'alice-token-0123456789abcdef';
const BOB = 'bob-token-0123456789abcdef00';
const CAROL = 'carol-token-0123456789abcdef';
const CAROL2 = 'carol-token-9876543210fedcba';
const INIT = { jsonrpc: '2.0', id: 1, method: 'initialize', params: { protocolVersion: '2025-06-18', capabilities: {}, clientInfo: { name: 'raw', version: '1' } } };
const MCP_HEADERS = { 'content-type': 'application/json', accept: 'application/json, text/event-stream' };

/** A raw POST to /mcp (no MCP client), with an optional bearer token and session. */
function post(url: string, body: unknown, token?: string, session?: string, method = 'POST'): Promise<Response> {
  return fetch(url, {
    method,
    headers: {
      ...MCP_HEADERS,
      ...(token ? { authorization: `Bearer ${token}` } : {}),
      ...(session ? { 'mcp-session-id': session } : {}),
    },
    ...(method === 'POST' ? { body: typeof body === 'string' ? body : JSON.stringify(body) } : {}),
  });
}

/** Initializes a session with a raw POST; returns its id. */
async function initialize(url: string, token?: string): Promise<string> {
  const res = await post(url, INIT, token);
  await res.text();
  assert.equal(res.status, 200);
  const id = res.headers.get('mcp-session-id');
  assert.ok(id, 'initialize answers with a session id');
  return id;
}

/** tools/list on a session: 200 while the session lives for this principal, 404 otherwise. */
async function listTools(url: string, token: string | undefined, session: string): Promise<{ status: number; body: string }> {
  const res = await post(url, { jsonrpc: '2.0', id: 2, method: 'tools/list' }, token, session);
  return { status: res.status, body: await res.text() };
}

/** A raw tools/call on a session; returns the JSON-RPC result from the (SSE) answer. */
async function callRaw(url: string, token: string, session: string, name: string, args: Record<string, unknown>): Promise<{ structuredContent?: Record<string, unknown> }> {
  const res = await post(url, { jsonrpc: '2.0', id: 3, method: 'tools/call', params: { name, arguments: args } }, token, session);
  const text = await res.text();
  assert.equal(res.status, 200, text);
  const data = /^data: (.*)$/m.exec(text)?.[1] ?? text;
  return (JSON.parse(data) as { result: { structuredContent?: Record<string, unknown> } }).result;
}

/** 401 when the token is refused; anything else means it was accepted (an empty body is a 400). */
async function authStatus(url: string, token: string): Promise<number> {
  const res = await post(url, {}, token);
  await res.text();
  return res.status;
}

function rssKiB(pid: number): number {
  return Number(/VmRSS:\s+(\d+)/.exec(fs.readFileSync(`/proc/${pid}/status`, 'utf8'))?.[1] ?? NaN);
}

/** Writes the tokens file in place (same inode) and, when given, sets its mtime to a whole second. */
function writeTokens(file: string, tokens: Record<string, string> | string, mtime?: Date): void {
  fs.writeFileSync(file, typeof tokens === 'string' ? tokens : JSON.stringify(tokens));
  if (mtime) fs.utimesSync(file, mtime, mtime);
}

describe('Streamable HTTP transport', { timeout: 5 * 60_000 }, () => {
  let dev: DevServer;
  let model: ModelServer;
  let sink: SinkServer;
  let server: ChildProcess;
  let url: string;
  let base: string;
  let stderr = '';
  const clients: Client[] = [];
  const extraServers: ChildProcess[] = [];
  const tokensDir = fs.mkdtempSync(path.join(os.tmpdir(), 'da-http-tokens-'));
  const tokensFile = path.join(tokensDir, 'tokens.json');

  function env(extra: Record<string, string | undefined> = {}): Record<string, string> {
    const e: Record<string, string> = {};
    const all: Record<string, string | undefined> = {
      ...process.env,
      TEMPORAL_ADDRESS: dev.address,
      OPENAI_BASE_URL: model.baseUrl,
      OPENAI_API_KEY: 'test-key',
      DURABLE_AGENT_MODEL: 'test-model',
      DURABLE_AGENT_HOME: fs.mkdtempSync(path.join(os.tmpdir(), 'da-http-')),
      DURABLE_AGENT_TASK_QUEUE: `http-${process.pid}`,
      DURABLE_AGENT_TOKEN: TOKEN,
      DURABLE_AGENT_HTTP_ALLOW: '127.0.0.1', // the sink is on loopback, which http_request refuses by default
      DURABLE_AGENT_TOKENS_FILE: tokensFile,
      ...extra,
    };
    for (const [k, v] of Object.entries(all)) if (v !== undefined) e[k] = v;
    return e;
  }
  async function connect(token = TOKEN): Promise<Client> {
    const client = new Client({ name: 'http-test', version: '1.0.0' });
    await client.connect(new StreamableHTTPClientTransport(new URL(url), { requestInit: { headers: { Authorization: `Bearer ${token}` } } }));
    clients.push(client);
    return client;
  }
  async function call(client: Client, name: string, args: Record<string, unknown>): Promise<CallToolResult> {
    return (await client.callTool({ name, arguments: args }, { timeout: 70_000 })) as CallToolResult;
  }

  /** Another server (no worker) for one test; resolves once it answers /healthz. */
  async function spawnExtra(args: string[], extra: Record<string, string | undefined> = {}, host = '127.0.0.1') {
    const port = await freePort();
    const child = spawn(process.execPath, [cliPath, 'serve', '--transport', 'http', '--no-worker', '--host', host, '--port', String(port), ...args], {
      env: env(extra),
      stdio: ['ignore', 'ignore', 'pipe'],
    });
    extraServers.push(child);
    let err = '';
    child.stderr?.on('data', (c: Buffer) => (err += c.toString()));
    const base = `http://${host}:${port}`;
    await waitFor(`the extra server on ${base} to answer`, async () => (await fetch(`${base}/healthz`).catch(() => undefined)) !== undefined, 30_000);
    return { child, base, url: `${base}/mcp`, port, stderr: () => err };
  }

  before(async () => {
    writeTokens(tokensFile, { alice: ALICE, bob: BOB });
    [dev, model, sink] = await Promise.all([startDevServer(), startModelServer(), startSinkServer()]);
    const port = await freePort();
    base = `http://127.0.0.1:${port}`;
    url = `${base}/mcp`;
    server = spawn(process.execPath, [cliPath, 'serve', '--transport', 'http', '--port', String(port)], { env: env(), stdio: ['ignore', 'pipe', 'pipe'] });
    server.stderr?.on('data', (c: Buffer) => (stderr += c.toString()));
    server.stdout?.resume();
    await waitFor('/healthz to see Temporal and a polling worker', async () => {
      const res = await fetch(`${base}/healthz`).catch(() => undefined);
      return res?.status === 200 && ((await res.json()) as { worker: string }).worker === 'polling';
    }, 60_000);
  });
  after(async () => {
    for (const c of clients) await c.close().catch(() => undefined);
    server?.kill('SIGKILL');
    for (const child of extraServers) child.kill('SIGKILL');
    await Promise.all([dev?.stop(), model?.close(), sink?.close()]);
  });

  it('/healthz reports Temporal and the worker; it needs no token', async () => {
    const res = await fetch(`${base}/healthz`);
    const body = (await res.json()) as { ok: boolean; temporal: string; worker: string };
    assert.equal(res.status, 200);
    assert.equal(body.temporal, 'reachable');
    assert.equal(body.worker, 'polling');
  });

  it('the whole tool flow over HTTP: start, approval, result', async () => {
    const client = await connect();
    const runs = runHelpers(() => client);
    model.script('http-flow', [
      { toolCalls: [{ name: 'http_request', arguments: { method: 'POST', url: `${sink.url}/http-flow`, body: 'x' } }] },
      { content: 'posted over http' },
    ]);
    const runId = await runs.start({ task: 'flow [script:http-flow]' });
    const waiting = await runs.waitForApproval(runId);
    await runs.decide(runId, waiting.pendingApprovals[0]!.approvalId, 'approve');
    const final = await runs.result(runId);
    assert.equal(final.status, 'completed');
    assert.equal(final.result, 'posted over http');
    assert.equal(sink.requests().filter((r) => r.path === '/http-flow').length, 1);
  });

  it('a missing or wrong token is 401; a foreign Origin is 403; a loopback Origin is fine', async () => {
    const init = { jsonrpc: '2.0', id: 1, method: 'initialize', params: { protocolVersion: '2025-06-18', capabilities: {}, clientInfo: { name: 'raw', version: '1' } } };
    const post = (headers: Record<string, string>) =>
      fetch(url, { method: 'POST', headers: { 'content-type': 'application/json', accept: 'application/json, text/event-stream', ...headers }, body: JSON.stringify(init) });
    assert.equal((await post({})).status, 401);
    assert.equal((await post({ authorization: 'Bearer wrong-token-wrong-token' })).status, 401);
    const foreign = await post({ authorization: `Bearer ${TOKEN}`, origin: 'https://evil.example' });
    assert.equal(foreign.status, 403);
    assert.match(JSON.stringify(await foreign.json()), /not allowed/);
    const local = await post({ authorization: `Bearer ${TOKEN}`, origin: 'http://localhost:3000' });
    assert.equal(local.status, 200);
    await assert.rejects(connect('wrong-token-wrong-token'));

    // A foreign Host header (DNS rebinding) is refused as well.
    const hostStatus = await new Promise<number>((resolve, reject) => {
      const req = http.request(url, { method: 'POST', headers: { host: 'evil.example', authorization: `Bearer ${TOKEN}`, 'content-type': 'application/json' } }, (res) => {
        res.resume();
        resolve(res.statusCode ?? 0);
      });
      req.once('error', reject);
      req.end(JSON.stringify(init));
    });
    assert.equal(hostStatus, 403);
  });

  it('two clients at once, each with its own session', async () => {
    const [a, b] = await Promise.all([connect(), connect()]);
    model.script('http-a', [{ delayMs: 500, then: { content: 'answer a' } }]);
    model.script('http-b', [{ delayMs: 500, then: { content: 'answer b' } }]);
    const [ra, rb] = await Promise.all([
      runHelpers(() => a!).start({ task: 'a [script:http-a]' }),
      runHelpers(() => b!).start({ task: 'b [script:http-b]' }),
    ]);
    const [fa, fb] = await Promise.all([runHelpers(() => a!).result(ra), runHelpers(() => b!).result(rb)]);
    assert.equal(fa.result, 'answer a');
    assert.equal(fb.result, 'answer b');
  });

  it('a client that disconnects mid-wait harms nothing: the run completes and others are served', async () => {
    const leaving = await connect();
    model.script('http-leave', [{ delayMs: 3_000, then: { content: 'finished anyway' } }]);
    const runId = await runHelpers(() => leaving).start({ task: 'leave [script:http-leave]' });
    const waiting = call(leaving, 'get_run_result', { runId, waitSeconds: 20 }).catch((err: unknown) => err);
    await sleep(500);
    await leaving.close();
    await waiting;
    const other = await connect();
    const final = await runHelpers(() => other).result(runId);
    assert.equal(final.status, 'completed');
    assert.equal(final.result, 'finished anyway');
  });

  it('binding beyond loopback without a token is refused at start with a clear message', () => {
    const res = spawnSync(process.execPath, [cliPath, 'serve', '--transport', 'http', '--host', '0.0.0.0'], {
      env: env({ DURABLE_AGENT_TOKEN: '', DURABLE_AGENT_TOKENS_FILE: undefined }),
      encoding: 'utf8',
      timeout: 30_000,
    });
    assert.equal(res.status, 2);
    assert.match(res.stderr, /refusing to serve HTTP on 0\.0\.0\.0 without --token/);
  });

  it('a bad tokens file stops the start with one line naming the principal (not the token); a good one allows binding beyond loopback', async () => {
    const bad = path.join(tokensDir, 'bad.json');
    fs.writeFileSync(bad, JSON.stringify({ dave: 'short-secret' }));
    const res = spawnSync(process.execPath, [cliPath, 'serve', '--transport', 'http', '--tokens-file', bad], { env: env(), encoding: 'utf8', timeout: 30_000 });
    assert.equal(res.status, 2, res.stderr);
    assert.equal(res.stderr.trim().split('\n').length, 1, res.stderr);
    assert.match(res.stderr, /tokens-file .*bad\.json: the token of "dave" is shorter than 16 characters/);
    assert.doesNotMatch(res.stderr, /short-secret/);

    // 0.0.0.0 with a tokens file and no --token passes the config check: what stops it is the port
    // taken on 127.0.0.1 (Linux refuses the wildcard bind), so nothing is left serving.
    const blocker = http.createServer();
    await new Promise<void>((resolve) => blocker.listen(0, '127.0.0.1', resolve));
    const port = (blocker.address() as { port: number }).port;
    try {
      const wide = spawnSync(process.execPath, [cliPath, 'serve', '--transport', 'http', '--host', '0.0.0.0', '--port', String(port)], {
        env: env({ DURABLE_AGENT_TOKEN: '' }),
        encoding: 'utf8',
        timeout: 15_000,
      });
      assert.doesNotMatch(wide.stderr, /refusing to serve/);
      assert.match(wide.stderr, new RegExp(`cannot listen on 0\\.0\\.0\\.0:${port}: address already in use`));
      assert.equal(wide.status, 2);
    } finally {
      blocker.close();
    }
  });

  it('principals from --tokens-file: each token can call tools; a token not in the file is 401', async () => {
    const [a, b] = await Promise.all([connect(ALICE), connect(BOB)]);
    for (const client of [a, b]) {
      const res = await call(client, 'list_runs', { limit: 1 });
      assert.ok(!res.isError, JSON.stringify(res.content));
    }
    assert.equal(await authStatus(url, CAROL), 401);
    await assert.rejects(connect(CAROL));
  });


  it('a run belongs to its principal: another token sees, approves, cancels nothing of it; history names who decided', async () => {
    const [alice, bob] = await Promise.all([connect(ALICE), connect(BOB)]);
    const asAlice = runHelpers(() => alice);
    model.script('owned-http', [
      { toolCalls: [{ name: 'http_request', arguments: { method: 'POST', url: `${sink.url}/owned-http`, body: 'x' } }] },
      { content: 'alice posted' },
    ]);
    const runId = await asAlice.start({ task: 'alice only [script:owned-http]' });
    const { approvalId } = (await asAlice.waitForApproval(runId)).pendingApprovals[0]!;

    const unknownRun = (await call(bob, 'get_run_status', { runId: 'run-does-not-exist' })).content;
    const asUnknown = (text: unknown) => JSON.stringify(text).replaceAll(runId, 'run-does-not-exist');
    for (const [tool, args] of [
      ['get_run_status', { runId }],
      ['get_run_result', { runId, waitSeconds: 1 }],
      ['approve_step', { runId, approvalId, decision: 'approve' }],
      ['cancel_run', { runId }],
      ['send_message', { runId, message: 'hi' }],
      ['get_run_history', { runId }],
    ] as const) {
      const res = await call(bob, tool, args);
      assert.equal(res.isError, true, `${tool} refuses bob`);
      assert.equal(asUnknown(res.content), JSON.stringify(unknownRun), `${tool}: exactly the answer for an unknown run`);
    }
    const bobsList = (await call(bob, 'list_runs', { limit: 100 })).structuredContent as { runs: Array<{ runId: string }> };
    assert.ok(!bobsList.runs.some((r) => r.runId === runId), 'bob does not list it');
    assert.equal(sink.requests().filter((r) => r.path === '/owned-http').length, 0);

    await asAlice.decide(runId, approvalId, 'approve');
    assert.equal((await asAlice.result(runId)).status, 'completed');
    const history = (await call(alice, 'get_run_history', { runId })).structuredContent as { entries: Array<{ kind: string; by?: string }> };
    assert.equal(history.entries.find((e) => e.kind === 'approval')?.by, 'alice via http-test');
  });
  it('a session belongs to the principal that initialized it: another gets the 404 of an unknown session', async () => {
    const session = await initialize(url, ALICE);
    const unknown = await listTools(url, BOB, '00000000-0000-4000-8000-000000000000');
    assert.equal(unknown.status, 404);
    const asBob = await listTools(url, BOB, session);
    assert.equal(asBob.status, 404);
    assert.equal(asBob.body, unknown.body, 'no hint that the session exists');
    assert.equal((await listTools(url, TOKEN, session)).status, 404, 'the --token principal is another principal too');
    const del = await post(url, undefined, BOB, session, 'DELETE');
    assert.equal(del.status, 404, 'nor can another principal end it');
    const asAlice = await listTools(url, ALICE, session);
    assert.equal(asAlice.status, 200);
    assert.match(asAlice.body, /start_agent_run/);
  });

  it('the tokens file is re-read when it changes and on SIGHUP; a bad file keeps the tokens in force', async () => {
    try {
      // bob removed, carol added: picked up without a restart.
      writeTokens(tokensFile, { alice: ALICE, carol: CAROL });
      await waitFor('carol to be accepted', async () => (await authStatus(url, CAROL)) !== 401, 10_000);
      assert.equal(await authStatus(url, BOB), 401);

      // A broken file is reported and changes nothing.
      writeTokens(tokensFile, '{ "alice": ');
      await waitFor('the bad re-read to be logged', () => /could not re-read the tokens file/.test(stderr), 10_000);
      assert.notEqual(await authStatus(url, ALICE), 401);
      assert.notEqual(await authStatus(url, CAROL), 401);

      // A change that keeps inode, size and mtime is invisible to watching; SIGHUP re-reads anyway.
      const fixed = new Date('2020-01-01T00:00:00Z');
      writeTokens(tokensFile, { alice: ALICE, carol: CAROL }, fixed);
      await waitFor('the fixed file to be read', async () => (await authStatus(url, CAROL)) !== 401, 10_000);
      writeTokens(tokensFile, { alice: ALICE, carol: CAROL2 }, fixed);
      await sleep(500);
      assert.equal(await authStatus(url, CAROL2), 401, 'same inode, size and mtime: not re-read yet');
      server.kill('SIGHUP');
      await waitFor('SIGHUP to re-read the file', async () => (await authStatus(url, CAROL2)) !== 401, 10_000);
      assert.equal(await authStatus(url, CAROL), 401);
      assert.equal(server.exitCode, null, 'SIGHUP does not stop the server');
    } finally {
      writeTokens(tokensFile, { alice: ALICE, bob: BOB });
    }
  });

  it('a 40,000-character CJK task (120 KB of JSON) is accepted', async () => {
    const client = await connect();
    model.script('http-cjk', [{ content: 'read it all' }]);
    const task = `${'漢'.repeat(40_000 - 20)} [script:http-cjk]`;
    const runs = runHelpers(() => client);
    const runId = await runs.start({ task });
    const final = await runs.result(runId);
    assert.equal(final.status, 'completed');
    assert.equal(final.result, 'read it all');
  });

  it('body errors are JSON-RPC JSON: bad JSON 400 (after auth: 401 without a token), 10 MB 413, unknown path 404', async () => {
    const noHtml = (text: string) => {
      assert.doesNotMatch(text, /<html|<pre|<!DOCTYPE/i);
      assert.doesNotMatch(text, /^\s*at /m, 'no stack trace');
      assert.doesNotMatch(text, /node_modules|\/dist\//, 'no file paths');
    };
    const expectRpc = async (res: Response, status: number, code: number) => {
      const text = await res.text();
      assert.equal(res.status, status, text);
      assert.match(res.headers.get('content-type') ?? '', /application\/json/);
      noHtml(text);
      const body = JSON.parse(text) as { jsonrpc: string; error: { code: number }; id: null };
      assert.equal(body.jsonrpc, '2.0');
      assert.equal(body.error.code, code);
      assert.equal(body.id, null);
    };
    await expectRpc(await post(url, '{"jsonrpc": "2.0", "method": ', TOKEN), 400, -32700);
    await expectRpc(await post(url, '{"jsonrpc": "2.0", "method": '), 401, -32001);
    const big = JSON.stringify({ ...INIT, params: { ...INIT.params, padding: 'x'.repeat(10 * 1024 * 1024) } });
    await expectRpc(await post(url, big, TOKEN), 413, -32600);
    await expectRpc(await post(url, big), 401, -32001);
    await expectRpc(await fetch(`${base}/nope`, { headers: { authorization: `Bearer ${TOKEN}` } }), 404, -32600);
  });

  it('--max-sessions 8: 200 initializes keep at most 8 sessions, evict the oldest, bound memory; all busy → 503', async () => {
    const extra = await spawnExtra(['--max-sessions', '8']);
    const first = await initialize(extra.url, TOKEN);
    const before = rssKiB(extra.child.pid!);
    const ids = [first];
    for (let i = 1; i < 200; i++) ids.push(await initialize(extra.url, TOKEN));
    const last = ids[199]!;
    const grownMiB = (rssKiB(extra.child.pid!) - before) / 1024;
    const health = (await (await fetch(`${extra.base}/healthz`)).json()) as { sessions: number };
    assert.ok(health.sessions <= 8, `sessions: ${health.sessions}`);
    assert.equal((await listTools(extra.url, TOKEN, first)).status, 404, 'the oldest session was evicted');
    assert.equal((await listTools(extra.url, TOKEN, last)).status, 200, 'the newest lives');
    // Generous: GC timing alone moves RSS by tens of MiB; unbounded sessions grow it without end.
    assert.ok(grownMiB < 100, `RSS grew by ${grownMiB.toFixed(1)} MiB`);

    // All 8 busy (a wait in flight on each): a new session is refused with 503, not by evicting one.
    // The run waits for an approval (the main server's worker runs it), so it stays open.
    model.script('http-busy', [{ toolCalls: [{ name: 'http_request', arguments: { method: 'POST', url: `${sink.url}/busy`, body: 'x' } }] }]);
    const started = await callRaw(extra.url, TOKEN, last, 'start_agent_run', { task: 'busy [script:http-busy]' });
    const runId = started.structuredContent?.runId;
    assert.equal(typeof runId, 'string', JSON.stringify(started));
    const waits = ids.slice(-8).map((id) => callRaw(extra.url, TOKEN, id, 'get_run_result', { runId, waitSeconds: 3 }));
    await sleep(1_500);
    const refused = await post(extra.url, INIT, TOKEN);
    assert.equal(refused.status, 503);
    assert.equal(((await refused.json()) as { error: { code: number } }).error.code, -32000);
    await Promise.all(waits);
    await initialize(extra.url, TOKEN);
    await callRaw(extra.url, TOKEN, last, 'cancel_run', { runId });
  });

  it('--session-idle-timeout 2: a session idle for ~4 s is closed; one in use lives on', async () => {
    const extra = await spawnExtra(['--session-idle-timeout', '2']);
    const idle = await initialize(extra.url, TOKEN);
    const busy = await initialize(extra.url, TOKEN);
    for (let i = 0; i < 4; i++) {
      await sleep(1_000);
      assert.equal((await listTools(extra.url, TOKEN, busy)).status, 200);
    }
    assert.equal((await listTools(extra.url, TOKEN, idle)).status, 404);
    const health = (await (await fetch(`${extra.base}/healthz`)).json()) as { sessions: number };
    assert.equal(health.sessions, 1);
  });

  it('a port in use: one stderr line naming it, exit 2 within seconds, and no dev server started', async () => {
    const blocker = http.createServer();
    await new Promise<void>((resolve) => blocker.listen(0, '127.0.0.1', resolve));
    const port = (blocker.address() as { port: number }).port;
    const home = fs.mkdtempSync(path.join(os.tmpdir(), 'da-http-inuse-'));
    try {
      const t0 = Date.now();
      // No TEMPORAL_ADDRESS: before the fix the embedded dev server started first.
      const child = spawn(process.execPath, [cliPath, 'serve', '--transport', 'http', '--port', String(port)], {
        env: env({ TEMPORAL_ADDRESS: undefined, TEMPORAL_CLI_PATH: temporalCliPath(), DURABLE_AGENT_HOME: home }),
        stdio: ['ignore', 'pipe', 'pipe'],
      });
      let out = '';
      child.stderr?.on('data', (c: Buffer) => (out += c.toString()));
      child.stdout?.resume();
      const code = await Promise.race([
        new Promise<number | null>((resolve) => child.once('exit', (c) => resolve(c))),
        sleep(15_000).then(() => 'still running'),
      ]);
      child.kill('SIGKILL');
      assert.equal(code, 2, `stderr: ${out}`);
      assert.ok(Date.now() - t0 < 10_000, 'exits within seconds');
      const lines = out.trim().split('\n');
      assert.equal(lines.length, 1, out);
      assert.match(lines[0]!, new RegExp(`cannot listen on 127\\.0\\.0\\.1:${port}: address already in use`));
      await sleep(500);
      assert.deepEqual(processesMentioning(home), [], 'no process of that data dir is left');
    } finally {
      for (const line of processesMentioning(home)) {
        const pid = Number(line.trim().split(/\s+/)[0]);
        if (pid) process.kill(pid, 'SIGKILL');
      }
      blocker.close();
    }
  });

  it('a bind on another loopback address (127.0.0.2) still checks Host', async (t) => {
    const probe = http.createServer();
    const bindable = await new Promise<boolean>((resolve) => {
      probe.once('error', () => resolve(false));
      probe.listen(0, '127.0.0.2', () => resolve(true));
    });
    probe.close();
    if (!bindable) return t.skip('127.0.0.2 cannot be bound here');
    const extra = await spawnExtra([], {}, '127.0.0.2');
    const status = (host: string) =>
      new Promise<number>((resolve, reject) => {
        const req = http.request(extra.url, { method: 'POST', headers: { host, authorization: `Bearer ${TOKEN}`, ...MCP_HEADERS } }, (res) => {
          res.resume();
          resolve(res.statusCode ?? 0);
        });
        req.once('error', reject);
        req.end(JSON.stringify(INIT));
      });
    assert.equal(await status('evil.example'), 403);
    assert.equal(await status(`evil.example:${extra.port}`), 403);
    assert.equal(await status(`127.0.0.2:${extra.port}`), 200);
    assert.equal(await status(`localhost:${extra.port}`), 200);
  });

  it('SIGTERM: a request in flight still gets its answer, then the server exits cleanly', async () => {
    const client = await connect();
    model.script('http-term', [{ delayMs: 30_000, then: { content: 'later' } }]);
    const runId = await runHelpers(() => client).start({ task: 'term [script:http-term]' });
    const pending = call(client, 'get_run_result', { runId, waitSeconds: 40 });
    // Streams clients keep open for notifications do not hold shutdown up: a 2025-era GET stream
    // and a 2026-07-28 subscriptions/listen end with the server.
    const session = await initialize(url, TOKEN);
    const getStream = await fetch(url, { headers: { accept: 'text/event-stream', authorization: `Bearer ${TOKEN}`, 'mcp-session-id': session } });
    assert.equal(getStream.status, 200);
    const listen = modernRequest('listen-term', 'subscriptions/listen', { notifications: { toolsListChanged: true } });
    const listenStream = await fetch(url, { method: 'POST', headers: modernHeaders(listen, { authorization: `Bearer ${TOKEN}` }), body: JSON.stringify(listen) });
    assert.equal(listenStream.status, 200);
    await sleep(1_000);
    const exited = new Promise<number | null>((resolve) => server.once('exit', (code) => resolve(code)));
    const signalled = Date.now();
    server.kill('SIGTERM');
    const answer = await pending;
    assert.ok(!answer.isError, JSON.stringify(answer.content));
    assert.equal((answer.structuredContent as { status: string }).status, 'running', 'answered with the current status');
    assert.equal(await exited, 0);
    // The drain waits up to 10 s for requests in flight; open streams must not make it wait them out.
    assert.ok(Date.now() - signalled < 8_000, `exited ${Date.now() - signalled} ms after SIGTERM`);
    await Promise.all([getStream.body?.cancel().catch(() => undefined), listenStream.body?.cancel().catch(() => undefined)]);
    assert.match(stderr, /shutting down/);
  });
});
