/**
 * Streamable HTTP end to end: the built CLI with `--transport http --token …`, driven by the MCP SDK's
 * Streamable HTTP client. Auth, Origin, /healthz, several clients, a client that leaves mid-wait,
 * refusal to bind beyond loopback without a token, and a graceful SIGTERM.
 */
import assert from 'node:assert/strict';
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import fs from 'node:fs';
import http from 'node:http';
import os from 'node:os';
import path from 'node:path';
import { after, before, describe, it } from 'node:test';
import { Client } from '@modelcontextprotocol/sdk/client/index.js';
import { StreamableHTTPClientTransport } from '@modelcontextprotocol/sdk/client/streamableHttp.js';
import type { CallToolResult } from '@modelcontextprotocol/sdk/types.js';
import { startModelServer, type ModelServer } from './support/modelServer.js';
import { startSinkServer, type SinkServer } from './support/sinkServer.js';
import { cliPath } from './support/mcpStdio.js';
import { runHelpers } from './support/runs.js';
import { freePort, startDevServer, type DevServer } from './support/temporal.js';
import { sleep, waitFor } from './support/wait.js';

const TOKEN = 'test-token-0123456789abcdef';

describe('Streamable HTTP transport', { timeout: 5 * 60_000 }, () => {
  let dev: DevServer;
  let model: ModelServer;
  let sink: SinkServer;
  let server: ChildProcess;
  let url: string;
  let base: string;
  let stderr = '';
  const clients: Client[] = [];

  function env(extra: Record<string, string> = {}): Record<string, string> {
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
    return (await client.callTool({ name, arguments: args }, undefined, { timeout: 70_000 })) as CallToolResult;
  }

  before(async () => {
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
      env: env({ DURABLE_AGENT_TOKEN: '' }),
      encoding: 'utf8',
      timeout: 30_000,
    });
    assert.equal(res.status, 2);
    assert.match(res.stderr, /refusing to serve HTTP on 0\.0\.0\.0 without --token/);
  });

  it('SIGTERM: a request in flight still gets its answer, then the server exits cleanly', async () => {
    const client = await connect();
    model.script('http-term', [{ delayMs: 30_000, then: { content: 'later' } }]);
    const runId = await runHelpers(() => client).start({ task: 'term [script:http-term]' });
    const pending = call(client, 'get_run_result', { runId, waitSeconds: 40 });
    await sleep(1_000);
    const exited = new Promise<number | null>((resolve) => server.once('exit', (code) => resolve(code)));
    server.kill('SIGTERM');
    const answer = await pending;
    assert.ok(!answer.isError, JSON.stringify(answer.content));
    assert.equal((answer.structuredContent as { status: string }).status, 'running', 'answered with the current status');
    assert.equal(await exited, 0);
    assert.match(stderr, /shutting down/);
  });
});
