/**
 * End-to-end over stdio: the built CLI, a real Temporal dev server, a real OpenAI-compatible model
 * server and an HTTP sink. Every step of a run goes through the public MCP tools.
 */
import assert from 'node:assert/strict';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { after, before, describe, it } from 'node:test';
import type { CallToolResult, Tool } from '@modelcontextprotocol/server';
import { startModelServer, type ModelServer, type Step } from './support/modelServer.js';
import { startSinkServer, type SinkServer } from './support/sinkServer.js';
import { startDevServer, type DevServer } from './support/temporal.js';
import { callTool, resultText, spawnServer, validateStructured, type SpawnedServer } from './support/mcpStdio.js';

const CLOSED = new Set(['completed', 'failed', 'cancelled', 'timed_out']);
const TOOL_NAMES = ['start_agent_run', 'get_run_status', 'approve_step', 'cancel_run', 'list_runs', 'get_run_result', 'send_message'];

function sleep(ms: number): Promise<void> {
  return new Promise((r) => setTimeout(r, ms));
}

/** Text of a chat message's content, whatever its shape. */
function messageText(m: any): string {
  const c = m?.content;
  if (typeof c === 'string') return c;
  if (Array.isArray(c)) return c.map((p: any) => (typeof p === 'string' ? p : (p?.text ?? ''))).join('\n');
  return c == null ? '' : JSON.stringify(c);
}

describe('durable-agent-mcp over stdio (e2e)', { timeout: 15 * 60_000 }, () => {
  let dev: DevServer;
  let model: ModelServer;
  let sink: SinkServer;
  let server: SpawnedServer;
  let home: string;
  const tools = new Map<string, Tool>();
  const uniq = `${process.pid}-${Date.now().toString(36)}`;
  let validatedResults = 0;

  /** Call a tool; every successful result is checked against the tool's outputSchema. */
  async function call(name: string, args: Record<string, unknown>, timeoutMs?: number): Promise<CallToolResult> {
    const result = await callTool(server.client, name, args, timeoutMs);
    if (result.isError !== true) {
      validateStructured(tools.get(name), result);
      validatedResults += 1;
    }
    return result;
  }

  /** Call a tool that must succeed; return its structuredContent. */
  async function ok(name: string, args: Record<string, unknown>, timeoutMs?: number): Promise<any> {
    const result = await call(name, args, timeoutMs);
    assert.notEqual(result.isError, true, `${name}(${JSON.stringify(args)}) failed: ${resultText(result)}`);
    return result.structuredContent as any;
  }

  /** Call a tool that must fail with isError and a message; return the message. */
  async function fails(name: string, args: Record<string, unknown>): Promise<string> {
    const result = await callTool(server.client, name, args);
    assert.equal(result.isError, true, `${name}(${JSON.stringify(args)}) should be an error, got ${resultText(result)}`);
    const text = resultText(result);
    assert.ok(text.trim().length > 0, `${name}: error result without a message`);
    return text;
  }

  function task(scriptId: string, words = 'Do the test task'): string {
    return `${words} [script:${scriptId}]`;
  }

  async function startRun(scriptId: string, steps: Step[], extra: Record<string, unknown> = {}): Promise<string> {
    model.script(scriptId, steps);
    const sc = await ok('start_agent_run', { task: task(scriptId), ...extra });
    assert.equal(typeof sc.runId, 'string');
    assert.ok(sc.runId.length > 0);
    assert.equal(sc.created, true);
    assert.ok(['running', 'waiting_for_approval', 'completed', 'failed'].includes(sc.status), `start status ${sc.status}`);
    return sc.runId as string;
  }

  /** Poll get_run_status every 300 ms (up to 30 s) until pred holds. */
  async function pollStatus(runId: string, pred: (s: any) => boolean, what: string, timeoutMs = 30_000): Promise<any> {
    const deadline = Date.now() + timeoutMs;
    let last: any;
    for (;;) {
      last = await ok('get_run_status', { runId });
      assert.equal(last.runId, runId);
      if (pred(last)) return last;
      if (Date.now() > deadline) {
        assert.fail(`timed out waiting for ${what}; last status: ${JSON.stringify(last)}\nserver stderr tail:\n${server.stderr().slice(-3000)}`);
      }
      await sleep(300);
    }
  }

  async function waitWaiting(runId: string): Promise<any> {
    return pollStatus(runId, (s) => s.status === 'waiting_for_approval' && s.pendingApprovals.length > 0, 'waiting_for_approval');
  }

  /** get_run_result with waitSeconds until the run has closed (at most ~60 s). */
  async function waitClosed(runId: string, waitSeconds = 30): Promise<any> {
    const deadline = Date.now() + 60_000;
    for (;;) {
      const sc = await ok('get_run_result', { runId, waitSeconds });
      assert.equal(sc.runId, runId);
      if (CLOSED.has(sc.status)) return sc;
      if (Date.now() > deadline) {
        assert.fail(`run ${runId} did not close: ${JSON.stringify(sc)}\nserver stderr tail:\n${server.stderr().slice(-3000)}`);
      }
    }
  }

  async function listAll(args: Record<string, unknown>): Promise<any[]> {
    const sc = await ok('list_runs', args);
    assert.ok(Array.isArray(sc.runs));
    return sc.runs;
  }

  /** Poll list_runs until pred holds (visibility is eventually consistent). */
  async function pollList(args: Record<string, unknown>, pred: (runs: any[]) => boolean, what: string): Promise<any[]> {
    const deadline = Date.now() + 30_000;
    for (;;) {
      const runs = await listAll(args);
      if (pred(runs)) return runs;
      if (Date.now() > deadline) assert.fail(`list_runs ${JSON.stringify(args)}: timed out waiting for ${what}; got ${JSON.stringify(runs)}`);
      await sleep(300);
    }
  }

  function sinkRequests(p: string) {
    return sink.requests().filter((r) => r.path === p);
  }

  before(async () => {
    [dev, model, sink] = await Promise.all([startDevServer(), startModelServer(), startSinkServer()]);
    home = fs.mkdtempSync(path.join(os.tmpdir(), 'da-e2e-home-'));
    const extraArgs = (process.env.DURABLE_AGENT_E2E_ARGS ?? '').split(/\s+/).filter(Boolean);
    server = await spawnServer({
      args: extraArgs,
      env: {
        TEMPORAL_ADDRESS: dev.address,
        TEMPORAL_NAMESPACE: 'default',
        TEMPORAL_API_KEY: undefined,
        TEMPORAL_PROFILE: undefined,
        TEMPORAL_TLS: undefined,
        OPENAI_BASE_URL: model.baseUrl,
        OPENAI_API_KEY: 'test-key',
        DURABLE_AGENT_MODEL: 'test-model',
        DURABLE_AGENT_HOME: home,
        DURABLE_AGENT_NO_SERVICE: '1', // in-process mode; test/service.test.ts covers the background service
        DURABLE_AGENT_TASK_QUEUE: `e2e-stdio-${uniq}`,
        // Pinned, not inherited from the developer's shell; loopback opened because the sink is there.
        DURABLE_AGENT_HTTP_ALLOW: '127.0.0.1',
        DURABLE_AGENT_HTTP_DENY: undefined,
      },
    });
    const listed = await server.client.listTools();
    for (const t of listed.tools) tools.set(t.name, t);
  });

  after(async () => {
    await server?.close().catch(() => undefined);
    await Promise.all([dev?.stop(), model?.close(), sink?.close()].map((p) => p?.catch(() => undefined)));
    if (home) fs.rmSync(home, { recursive: true, force: true });
  });

  it('lists the contract tools, each with title, annotations and an outputSchema', () => {
    for (const name of TOOL_NAMES) {
      const t = tools.get(name);
      assert.ok(t, `missing tool ${name}; have ${[...tools.keys()].join(', ')}`);
      assert.ok(t.title || t.annotations?.title, `${name}: no title`);
      assert.ok(t.description && t.description.length > 20, `${name}: description too short`);
      assert.ok(t.inputSchema, `${name}: no inputSchema`);
      assert.ok(t.outputSchema, `${name}: no outputSchema`);
      assert.ok(t.annotations, `${name}: no annotations`);
    }
    assert.equal(tools.get('get_run_status')?.annotations?.readOnlyHint, true);
    assert.equal(tools.get('list_runs')?.annotations?.readOnlyHint, true);
  });

  it('GET tool call, then a final answer: completed with result and usage', async () => {
    const id = `get-${uniq}`;
    const runId = await startRun(id, [
      { toolCalls: [{ name: 'http_request', arguments: { method: 'GET', url: `${sink.url}/x` } }] },
      { content: 'the answer is 42' },
    ]);
    const sc = await waitClosed(runId);
    assert.equal(sc.status, 'completed', JSON.stringify(sc));
    assert.equal(sc.result, 'the answer is 42');
    assert.equal(sc.task, task(id));
    assert.equal(sc.maxSteps, 25);
    assert.deepEqual(sc.pendingApprovals, []);
    assert.equal(sc.usage.llmCalls, 2);
    assert.equal(sc.usage.toolCalls, 1);
    assert.ok(sc.usage.inputTokens > 0, 'inputTokens > 0');
    assert.ok(sc.usage.outputTokens > 0, 'outputTokens > 0');
    assert.ok(sc.closedAt, 'closedAt set on a closed run');
    assert.equal(sc.error, undefined);
    if (sc.lastToolCall) {
      assert.equal(sc.lastToolCall.tool, 'http_request');
      assert.equal(sc.lastToolCall.ok, true);
    }
    const gets = sinkRequests('/x');
    assert.equal(gets.length, 1);
    assert.equal(gets[0]?.method, 'GET');
    assert.ok(gets[0]?.headers['idempotency-key'], 'GET carries an Idempotency-Key');
    // the model saw the tool's observation (the sink's body)
    const reqs = model.requests(id);
    assert.equal(reqs.length, 2);
    const toolMsgs = (reqs[1].messages as any[]).filter((m) => m.role === 'tool');
    assert.equal(toolMsgs.length, 1);
    assert.match(messageText(toolMsgs[0]), /200/);
    // get_run_status agrees for the closed run
    const st = await ok('get_run_status', { runId });
    assert.equal(st.status, 'completed');
    assert.equal(st.result, 'the answer is 42');
  });

  it("approval 'writes': a POST waits, approve runs it exactly once with an Idempotency-Key", async () => {
    const id = `approve-${uniq}`;
    const runId = await startRun(id, [
      { toolCalls: [{ name: 'http_request', arguments: { method: 'POST', url: `${sink.url}/post-approve`, body: '{"a":1}' } }] },
      { content: 'posted it' },
    ]);
    const waiting = await waitWaiting(runId);
    assert.equal(waiting.pendingApprovals.length, 1);
    const pa = waiting.pendingApprovals[0];
    assert.equal(typeof pa.approvalId, 'string');
    assert.ok(pa.approvalId.length > 0);
    assert.equal(pa.tool, 'http_request');
    assert.equal(typeof pa.summary, 'string');
    assert.ok(pa.summary.trim().length > 0, 'summary is non-empty');
    assert.ok(!pa.summary.includes('\n'), 'summary is one line');
    assert.equal(sinkRequests('/post-approve').length, 0, 'nothing sent before approval');

    const ap = await ok('approve_step', { runId, approvalId: pa.approvalId, decision: 'approve' });
    assert.equal(ap.runId, runId);
    assert.equal(ap.approvalId, pa.approvalId);
    assert.equal(ap.decision, 'approve');
    // the same decision again is harmless
    const again = await call('approve_step', { runId, approvalId: pa.approvalId, decision: 'approve' });
    assert.notEqual(again.isError, true, `repeated approve: ${resultText(again)}`);

    const sc = await waitClosed(runId);
    assert.equal(sc.status, 'completed', JSON.stringify(sc));
    assert.equal(sc.result, 'posted it');
    assert.deepEqual(sc.pendingApprovals, []);
    const posts = sinkRequests('/post-approve');
    assert.equal(posts.length, 1, 'exactly one POST');
    assert.equal(posts[0]?.method, 'POST');
    const key = posts[0]?.headers['idempotency-key'];
    assert.ok(typeof key === 'string' && key.length > 0, 'POST carries an Idempotency-Key');

    const late = await call('approve_step', { runId, approvalId: pa.approvalId, decision: 'approve' });
    assert.notEqual(late.isError, true, `repeated approve after close: ${resultText(late)}`);
    assert.equal(sinkRequests('/post-approve').length, 1, 'still exactly one POST');
  });

  it('reject: the write is not sent and the model is told why', async () => {
    const id = `reject-${uniq}`;
    const runId = await startRun(id, [
      { toolCalls: [{ name: 'http_request', arguments: { method: 'POST', url: `${sink.url}/post-reject`, body: 'x' } }] },
      { content: 'ok, I will not do that' },
    ]);
    const waiting = await waitWaiting(runId);
    const approvalId = waiting.pendingApprovals[0].approvalId;
    const rj = await ok('approve_step', { runId, approvalId, decision: 'reject', comment: 'too risky' });
    assert.equal(rj.decision, 'reject');
    const sc = await waitClosed(runId);
    assert.equal(sc.status, 'completed', JSON.stringify(sc));
    assert.equal(sc.result, 'ok, I will not do that');
    assert.equal(sinkRequests('/post-reject').length, 0, 'rejected write never sent');
    const reqs = model.requests(id);
    assert.ok(reqs.length >= 2);
    const toolMsgs = (reqs[1].messages as any[]).filter((m) => m.role === 'tool');
    assert.equal(toolMsgs.length, 1);
    const text = messageText(toolMsgs[0]);
    assert.match(text, /rejected/i);
    assert.match(text, /too risky/);
  });

  it('cancel_run on a waiting run ends it cancelled; repeating is not an error', async () => {
    const id = `cancel-${uniq}`;
    const runId = await startRun(id, [
      { toolCalls: [{ name: 'http_request', arguments: { method: 'POST', url: `${sink.url}/post-cancel`, body: 'x' } }] },
    ]);
    await waitWaiting(runId);
    const c1 = await ok('cancel_run', { runId, reason: 'test cancel' });
    assert.equal(c1.runId, runId);
    assert.equal(typeof c1.status, 'string');
    const st = await pollStatus(runId, (s) => s.status === 'cancelled', 'cancelled');
    assert.ok(st.closedAt, 'closedAt on a cancelled run');
    const c2 = await call('cancel_run', { runId });
    assert.notEqual(c2.isError, true, `repeated cancel: ${resultText(c2)}`);
    assert.equal((c2.structuredContent as any).status, 'cancelled');
    assert.equal(sinkRequests('/post-cancel').length, 0);
  });

  it('idempotencyKey returns the same run; list_runs is newest first and filters by status', async () => {
    const id = `idem-${uniq}`;
    model.script(id, [{ content: 'idempotent answer' }]);
    const key = `idem-key-${uniq}`;
    const first = await ok('start_agent_run', { task: task(id), idempotencyKey: key });
    assert.equal(first.created, true);
    const second = await ok('start_agent_run', { task: task(id), idempotencyKey: key });
    assert.equal(second.runId, first.runId);
    assert.equal(second.created, false);
    const closed = await waitClosed(first.runId);
    assert.equal(closed.status, 'completed');
    // also after the run has closed
    const third = await ok('start_agent_run', { task: task(id), idempotencyKey: key });
    assert.equal(third.runId, first.runId);
    assert.equal(third.created, false);
    assert.equal(model.requests(id).length, 1, 'only one run ever called the model');

    const a = await startRun(`list-a-${uniq}`, [{ content: 'A' }]);
    assert.equal((await waitClosed(a)).status, 'completed');
    await sleep(50);
    const b = await startRun(`list-b-${uniq}`, [{ content: 'B' }]);
    assert.equal((await waitClosed(b)).status, 'completed');

    const runs = await pollList({ limit: 100 }, (rs) => rs.some((r) => r.runId === a) && rs.some((r) => r.runId === b), 'both runs');
    const ia = runs.findIndex((r) => r.runId === a);
    const ib = runs.findIndex((r) => r.runId === b);
    assert.ok(ib < ia, `newest first: later run at ${ib}, earlier at ${ia}`);
    const ra = runs[ia];
    assert.equal(ra.task, task(`list-a-${uniq}`));
    assert.equal(typeof ra.startedAt, 'string');
    for (let i = 1; i < runs.length; i++) {
      assert.ok(Date.parse(runs[i - 1].startedAt) >= Date.parse(runs[i].startedAt), 'list sorted by startedAt desc');
    }

    const done = await pollList({ status: 'completed', limit: 100 }, (rs) => rs.some((r) => r.runId === b), 'completed run in filter');
    for (const r of done) assert.equal(r.status, 'completed', `status filter leaked ${JSON.stringify(r)}`);

    const wid = `list-wait-${uniq}`;
    const w = await startRun(wid, [
      { toolCalls: [{ name: 'http_request', arguments: { method: 'DELETE', url: `${sink.url}/delete-list` } }] },
    ]);
    await waitWaiting(w);
    const waitingRuns = await pollList(
      { status: 'waiting_for_approval' },
      (rs) => rs.some((r) => r.runId === w),
      'waiting run in filter',
    );
    for (const r of waitingRuns) assert.equal(r.status, 'waiting_for_approval');
    await ok('cancel_run', { runId: w });
    await pollStatus(w, (s) => s.status === 'cancelled', 'cancelled');

    // pagination with a small limit
    const page1 = await ok('list_runs', { limit: 1 });
    assert.equal(page1.runs.length, 1);
    if (page1.nextCursor) {
      const page2 = await ok('list_runs', { limit: 1, cursor: page1.nextCursor });
      assert.ok(page2.runs.length <= 1);
      if (page2.runs.length === 1) assert.notEqual(page2.runs[0].runId, page1.runs[0].runId);
    }
  });

  it('maxSteps budget ends the run failed with the reason', async () => {
    const id = `maxsteps-${uniq}`;
    const runId = await startRun(
      id,
      [{ toolCalls: [{ name: 'http_request', arguments: { method: 'GET', url: `${sink.url}/loop` } }] }],
      { maxSteps: 2 },
    );
    const sc = await waitClosed(runId);
    assert.equal(sc.status, 'failed', JSON.stringify(sc));
    assert.equal(sc.maxSteps, 2);
    assert.equal(typeof sc.error, 'string');
    assert.match(sc.error, /max.?steps/i);
    assert.equal(model.requests(id).length, 2, 'maxSteps LLM turns, no more');
    assert.equal(sc.usage.llmCalls, 2);
  });

  it('a 401 from the model endpoint fails the run quickly without retrying', async () => {
    const id = `auth-${uniq}`;
    const t0 = Date.now();
    const runId = await startRun(id, [{ status: 401, body: { error: { message: 'bad key' } } }]);
    const sc = await waitClosed(runId, 20);
    assert.ok(Date.now() - t0 < 25_000, `failed within 20 s (took ${Date.now() - t0} ms)`);
    assert.equal(sc.status, 'failed', JSON.stringify(sc));
    assert.equal(typeof sc.error, 'string');
    assert.match(sc.error, /401/);
    assert.ok(!sc.error.includes('test-key'), 'the API key never appears in the error');
    await sleep(1000);
    assert.equal(model.requests(id).length, 1, 'no retry on 401');
  });

  it('malformed tool arguments and an unknown tool go back to the model as observations', async () => {
    const id = `semantic-${uniq}`;
    const runId = await startRun(
      id,
      [
        {
          toolCalls: [
            { id: 'call_bad_json', name: 'http_request', arguments: '{not json' },
            { id: 'call_unknown', name: 'no_such_tool', arguments: { x: 1 } },
          ],
        },
        { content: 'recovered' },
      ],
      { approval: 'none' },
    );
    const sc = await waitClosed(runId);
    assert.equal(sc.status, 'completed', JSON.stringify(sc));
    assert.equal(sc.result, 'recovered');
    const reqs = model.requests(id);
    assert.equal(reqs.length, 2);
    const toolMsgs = (reqs[1].messages as any[]).filter((m) => m.role === 'tool');
    const bad = toolMsgs.find((m) => m.tool_call_id === 'call_bad_json');
    const unknown = toolMsgs.find((m) => m.tool_call_id === 'call_unknown');
    assert.ok(bad, `tool message for the malformed call; got ${JSON.stringify(toolMsgs)}`);
    assert.ok(unknown, `tool message for the unknown tool; got ${JSON.stringify(toolMsgs)}`);
    assert.match(messageText(bad), /json|argument|parse|invalid/i);
    assert.match(messageText(unknown), /unknown|not found|no such|not available|no_such_tool/i);
  });

  it('bad input is an isError result with a message, and the server keeps serving', async () => {
    const unknownMsg = await fails('get_run_status', { runId: `no-such-run-${uniq}` });
    assert.ok(unknownMsg.length > 10);
    await fails('get_run_status', { runId: 5 });
    await fails('get_run_status', {});
    await fails('get_run_result', { runId: `no-such-run-${uniq}` });
    await fails('cancel_run', { runId: `no-such-run-${uniq}` });
    await fails('start_agent_run', {});
    await fails('start_agent_run', { task: task('never'), maxSteps: 0 });
    await fails('start_agent_run', { task: task('never'), approval: 'sometimes' });
    await fails('list_runs', { limit: 0 });
    await fails('approve_step', { runId: `no-such-run-${uniq}` });

    const id = `badapprove-${uniq}`;
    const runId = await startRun(id, [
      { toolCalls: [{ name: 'http_request', arguments: { method: 'PUT', url: `${sink.url}/put-bad`, body: 'x' } }] },
    ]);
    const waiting = await waitWaiting(runId);
    const pendingId: string = waiting.pendingApprovals[0].approvalId;
    await fails('approve_step', { runId, approvalId: pendingId, decision: 'maybe' });
    const msg = await fails('approve_step', { runId, approvalId: 'not-a-real-approval', decision: 'approve' });
    assert.ok(msg.includes(pendingId), `error lists the pending approval ids: ${msg}`);
    // the run is unharmed
    const still = await ok('get_run_status', { runId });
    assert.equal(still.status, 'waiting_for_approval');
    assert.equal(still.pendingApprovals.length, 1);
    await ok('cancel_run', { runId });
    await pollStatus(runId, (s) => s.status === 'cancelled', 'cancelled');
    assert.equal(sinkRequests('/put-bad').length, 0);

    const listed = await server.client.listTools();
    assert.ok(listed.tools.length >= TOOL_NAMES.length);
    assert.equal(server.child.exitCode, null, 'server still running');
  });

  it('stdout carries only JSON-RPC messages', () => {
    const lines = server.stdoutLines();
    assert.ok(lines.length > 10);
    for (const line of lines) {
      let msg: any;
      assert.doesNotThrow(() => {
        msg = JSON.parse(line);
      }, `non-JSON stdout line: ${line.slice(0, 200)}`);
      assert.equal(msg?.jsonrpc, '2.0', `not JSON-RPC: ${line.slice(0, 200)}`);
    }
  });

  it('structuredContent of every successful call validated against its outputSchema', () => {
    assert.ok(validatedResults > 20, `validated ${validatedResults} results`);
  });
});
