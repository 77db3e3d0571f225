/**
 * Runs as MCP tasks, and approvals answered inline, through the built CLI with the SDK's own v2 client:
 * the 2026-07-28 tasks extension (tasks/get, tasks/update, tasks/cancel) and the 2025-11-25 task
 * methods (tasks/get, tasks/result, tasks/list, tasks/cancel, notifications/tasks/status), each over
 * stdio and Streamable HTTP; get_run_result answering `input_required` (2026) or pushing
 * `elicitation/create` (2025); decisions made elsewhere winning over late form answers; and raw
 * JSON-RPC checks of the wire shapes, including clients that did not opt in and `--no-elicitation`.
 *
 * The HTTP server runs the worker; the stdio servers share its task queue with `--no-worker`.
 */
import assert from 'node:assert/strict';
import type { ChildProcess } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { after, before, describe, it } from 'node:test';
import type { CallToolResult } from '@modelcontextprotocol/client';
import type { Era } from './support/eraClients.js';
import { startModelServer, type ModelServer } from './support/modelServer.js';
import { envelope, modernHeaders, modernRequest, parseRpcBody, RawStdio, type RpcMessage } from './support/rawRpc.js';
import { startSinkServer, type SinkServer } from './support/sinkServer.js';
import { serverEnv, startHttpCli } from './support/serverEnv.js';
import { startDevServer, type DevServer } from './support/temporal.js';
import {
  connectTaskClient,
  pollTask,
  RELATED_TASK,
  startTask,
  taskOf,
  taskRequest,
  TASKS_EXT,
  type TaskConn as Conn,
  type TaskTransport,
} from './support/taskClients.js';
import { sleep, waitFor } from './support/wait.js';

const TOKEN = 'tasks-token-0123456789abcdef';
const PRINCIPAL = (() => {
  try {
    return os.userInfo().username || 'local';
  } catch {
    return 'local';
  }
})();

describe('runs as MCP tasks, approvals inline', { timeout: 5 * 60_000, concurrency: true }, () => {
  let dev: DevServer;
  let model: ModelServer;
  let sink: SinkServer;
  let httpServer: ChildProcess;
  let httpStderr = '';
  let url: string;
  const uniq = `${process.pid}-${Date.now().toString(36)}`;
  const homes: string[] = [];
  const conns = new Map<string, Conn>();
  const raws: RawStdio[] = [];

  function env(extra: Record<string, string | undefined> = {}): Record<string, string | undefined> {
    const home = fs.mkdtempSync(path.join(os.tmpdir(), 'da-tasks-'));
    homes.push(home);
    return serverEnv({ temporalAddress: dev.address, modelUrl: model.baseUrl, home, taskQueue: `tasks-${uniq}` }, extra);
  }

  function rawStdio(extra: Record<string, string | undefined> = {}): RawStdio {
    const raw = RawStdio.spawn(['--no-service', '--no-worker'], env(extra));
    raws.push(raw);
    return raw;
  }

  async function startHttpServer(): Promise<void> {
    ({ child: httpServer, url } = await startHttpCli(env({ DURABLE_AGENT_TOKEN: TOKEN }), (text) => (httpStderr += text)));
  }

  const connect = (transport: TaskTransport, era: Era): Promise<Conn> =>
    connectTaskClient(transport, era, transport === 'stdio' ? { env: env() } : { url, token: TOKEN });

  before(async () => {
    [dev, model, sink] = await Promise.all([startDevServer(), startModelServer(), startSinkServer()]);
    const stdioConns = Promise.all([connect('stdio', 'modern'), connect('stdio', 'legacy')]);
    await startHttpServer();
    const all = [...(await stdioConns), ...(await Promise.all([connect('http', 'modern'), connect('http', 'legacy')]))];
    for (const c of all) conns.set(`${c.transport}-${c.era}`, c);
  });

  after(async () => {
    for (const c of conns.values()) await c.close().catch(() => undefined);
    await Promise.all(raws.map((r) => r.close().catch(() => undefined)));
    httpServer?.kill('SIGKILL');
    await Promise.all([dev?.stop(), model?.close(), sink?.close()].map((p) => p?.catch(() => undefined)));
    for (const home of homes) fs.rmSync(home, { recursive: true, force: true });
    if (process.exitCode) process.stderr.write(`http server stderr (tail):\n${httpStderr.slice(-3000)}\n`);
  });

  // ---- helpers over one connection ----

  const request = taskRequest;

  const tool = async (conn: Conn, name: string, args: Record<string, unknown>): Promise<CallToolResult> =>
    (await conn.client.callTool({ name, arguments: args }, { timeout: 90_000 })) as CallToolResult;

  const posts = (p: string) => sink.requests().filter((r) => r.method === 'POST' && r.path === p).length;

  function checkTaskShape(conn: Conn, task: any, taskId: string): void {
    assert.equal(task.taskId, taskId);
    assert.ok(['working', 'input_required', 'completed', 'failed', 'cancelled'].includes(task.status), JSON.stringify(task));
    assert.ok(!Number.isNaN(Date.parse(task.createdAt)) && !Number.isNaN(Date.parse(task.lastUpdatedAt)), JSON.stringify(task));
    assert.equal(typeof task.statusMessage, 'string');
    if (conn.era === 'modern') {
      assert.ok(Number.isInteger(task.ttlMs) && task.ttlMs > 0, JSON.stringify(task));
      assert.equal(task.pollIntervalMs, 1000);
      assert.equal(task.ttl, undefined);
    } else {
      assert.ok(Number.isInteger(task.ttl) && task.ttl > 0, JSON.stringify(task));
      assert.equal(task.pollInterval, 1000);
      assert.equal(task.ttlMs, undefined);
    }
  }

  // ---- each era over each transport ----

  for (const transport of ['stdio', 'http'] as const) {
    for (const era of ['modern', 'legacy'] as const) {
      const label = `${era === 'modern' ? '2026-07-28 extension' : '2025-11-25 tasks'} over ${transport}`;
      const conn = () => conns.get(`${transport}-${era}`)!;

      it(`${label}: start as a task, poll to completion, the result is get_run_result's`, async () => {
        const c = conn();
        const script = `t-done-${transport}-${era}-${uniq}`;
        model.script(script, [{ delayMs: 1_500, then: { content: `finished ${script}` } }]);
        const created = await startTask(c, { task: `Finish [script:${script}]` });
        const seed = taskOf(c, created);
        if (era === 'modern') assert.equal(created.resultType, 'task', JSON.stringify(created));
        else assert.equal(created.resultType, undefined);
        const runId: string = created.structuredContent.runId;
        checkTaskShape(c, seed, runId);
        assert.equal(seed.status, 'working');
        // Readable at once (durably created before the answer).
        checkTaskShape(c, await request(c, 'tasks/get', { taskId: runId }), runId);

        const done = await pollTask(c, runId, (t) => t.status === 'completed', 'completed');
        checkTaskShape(c, done, runId);
        const viaTool = await tool(c, 'get_run_result', { runId });
        if (era === 'modern') {
          assert.deepEqual(done.result.structuredContent, viaTool.structuredContent);
          assert.deepEqual(done.result.content, viaTool.content);
        } else {
          assert.equal(done.result, undefined, '2025-11-25 tasks/get carries no result');
          const result = await request(c, 'tasks/result', { taskId: runId });
          assert.deepEqual(result.structuredContent, viaTool.structuredContent);
          assert.deepEqual(result.content, viaTool.content);
          assert.deepEqual(result._meta?.[RELATED_TASK], { taskId: runId });
          // The session that created the task heard its status change.
          await waitFor(`${c.name}: notifications/tasks/status for ${runId}`, () =>
            c.incoming.some((m: any) => m.method === 'notifications/tasks/status' && m.params?.taskId === runId && m.params?.status === 'completed'),
          );
          const listed = await request(c, 'tasks/list', {});
          assert.ok(listed.tasks.some((t: any) => t.taskId === runId && t.status === 'completed'), JSON.stringify(listed.tasks.slice(0, 5)));
        }
        assert.equal((viaTool.structuredContent as any).result, `finished ${script}`);
      });

      it(`${label}: a run that needs approval is input_required; the inline answer approves it; the write happens once`, async () => {
        const c = conn();
        const script = `t-appr-${transport}-${era}-${uniq}`;
        const postPath = `/tasks/${script}`;
        model.script(script, [
          { toolCalls: [{ name: 'http_request', arguments: { method: 'POST', url: `${sink.url}${postPath}`, body: 'x' } }] },
          { content: `posted ${script}` },
        ]);
        const created = await startTask(c, { task: `Post once [script:${script}]` });
        const runId: string = created.structuredContent.runId;
        if (era === 'legacy') c.answerFor.set(runId, () => ({ action: 'accept', content: { decision: 'approve', comment: 'fine by me' } }));
        const waiting = await pollTask(c, runId, (t) => t.status === 'input_required' || t.status === 'completed', 'input_required');
        assert.equal(waiting.status, 'input_required', JSON.stringify(waiting));
        assert.match(waiting.statusMessage, /Waiting for approval: http_request/);
        if (era === 'modern') {
          const keys = Object.keys(waiting.inputRequests ?? {});
          assert.equal(keys.length, 1, JSON.stringify(waiting));
          const form = waiting.inputRequests[keys[0]!];
          assert.equal(form.method, 'elicitation/create');
          assert.equal(form.params.mode, 'form');
          assert.match(form.params.message, new RegExp(`run ${runId} asks to call http_request`));
          assert.deepEqual(form.params.requestedSchema.required, ['decision']);
          assert.equal(posts(postPath), 0);
          const ack = await request(c, 'tasks/update', {
            taskId: runId,
            inputResponses: { [keys[0]!]: { action: 'accept', content: { decision: 'approve', comment: 'fine by me' } } },
          });
          assert.equal(ack._meta?.['durable-agent-mcp/answers']?.[0]?.outcome, 'applied', JSON.stringify(ack));
        }
        const done = await pollTask(c, runId, (t) => t.status === 'completed', 'completed');
        assert.equal(done.status, 'completed');
        assert.equal(posts(postPath), 1, 'the approved POST ran exactly once');
        if (era === 'legacy') {
          assert.ok(c.forms.some((f) => f.message.includes(runId) && f.meta?.[RELATED_TASK]?.taskId === runId), JSON.stringify(c.forms));
        }
        const history = (await tool(c, 'get_run_history', { runId })).structuredContent as any;
        const decision = history.entries.find((e: any) => e.kind === 'approval');
        assert.equal(decision?.decision, 'approve', JSON.stringify(history.entries));
        assert.equal(decision?.by, `${PRINCIPAL} via ${c.name}`);
        assert.equal(decision?.channel, era === 'modern' ? 'tasks/update' : 'elicitation');
      });

      it(`${label}: get_run_result puts the approval to the person; a reject is applied and nothing is sent`, async () => {
        const c = conn();
        const script = `t-rej-${transport}-${era}-${uniq}`;
        const postPath = `/tasks/${script}`;
        model.script(script, [
          { toolCalls: [{ name: 'http_request', arguments: { method: 'POST', url: `${sink.url}${postPath}`, body: 'x' } }] },
          { content: `gave up ${script}` },
        ]);
        const started = await startTask(c, { task: `Post maybe [script:${script}]` });
        const runId = started.structuredContent.runId as string;
        c.answerFor.set(runId, () => ({ action: 'accept', content: { decision: 'reject', comment: 'not today' } }));
        const final = await tool(c, 'get_run_result', { runId, waitSeconds: 40 });
        assert.equal((final.structuredContent as any).status, 'completed', JSON.stringify(final));
        assert.equal(posts(postPath), 0, 'a rejected write never reaches the sink');
        assert.ok(c.forms.some((f) => f.message.includes(runId)), `${c.name} was never shown the form`);
        const lastTurn = model.requests(script).at(-1);
        assert.match(JSON.stringify(lastTurn?.messages), /not today/, 'the agent saw the comment');
        const history = (await tool(c, 'get_run_history', { runId })).structuredContent as any;
        const decision = history.entries.find((e: any) => e.kind === 'approval');
        assert.deepEqual([decision?.decision, decision?.channel, decision?.by], ['reject', 'elicitation', `${PRINCIPAL} via ${c.name}`]);
      });

      it(`${label}: tasks/cancel cancels the run; an unknown task id is an error`, async () => {
        const c = conn();
        const script = `t-cancel-${transport}-${era}-${uniq}`;
        model.script(script, [{ delayMs: 20_000, then: { content: 'too late' } }]);
        const created = await startTask(c, { task: `Take long [script:${script}]` });
        const runId: string = created.structuredContent.runId;
        const answer = await request(c, 'tasks/cancel', { taskId: runId });
        if (era === 'modern') assert.deepEqual(Object.keys(answer).filter((k) => k !== '_meta'), [], 'an empty acknowledgement');
        else assert.equal(answer.taskId, runId);
        const closed = await pollTask(c, runId, (t) => t.status === 'cancelled', 'cancelled');
        checkTaskShape(c, closed, runId);
        assert.equal(((await tool(c, 'get_run_status', { runId })).structuredContent as any).status, 'cancelled');
        if (era === 'legacy') {
          await assert.rejects(request(c, 'tasks/cancel', { taskId: runId }), (err: any) => err.code === -32602 && /already cancelled/.test(err.message));
        }
        for (const method of ['tasks/get', 'tasks/cancel', ...(era === 'modern' ? ['tasks/update'] : ['tasks/result'])]) {
          await assert.rejects(
            request(c, method, { taskId: `no-such-task-${uniq}`, ...(method === 'tasks/update' ? { inputResponses: {} } : {}) }),
            (err: any) => err.code === -32602 && /Task not found/.test(err.message),
            `${c.name} ${method}`,
          );
        }
      });
    }
  }

  // ---- decisions made elsewhere, declined forms ----

  it('2026-07-28 over http: a decision made elsewhere wins; the late tasks/update answer changes nothing and says so', async () => {
    const c = conns.get('http-modern')!;
    const script = `t-late-${uniq}`;
    const postPath = `/tasks/${script}`;
    model.script(script, [
      { toolCalls: [{ name: 'http_request', arguments: { method: 'POST', url: `${sink.url}${postPath}`, body: 'x' } }] },
      { content: `ended ${script}` },
    ]);
    const runId: string = (await startTask(c, { task: `Post late [script:${script}]` })).structuredContent.runId;
    const waiting = await pollTask(c, runId, (t) => t.status === 'input_required', 'input_required');
    const key = Object.keys(waiting.inputRequests)[0]!;
    const rejected = await tool(c, 'approve_step', { runId, approvalId: key, decision: 'reject', comment: 'decided in chat' });
    assert.equal(rejected.isError, undefined, JSON.stringify(rejected));
    const ack = await request(c, 'tasks/update', { taskId: runId, inputResponses: { [key]: { action: 'accept', content: { decision: 'approve' } } } });
    const outcome = ack._meta?.['durable-agent-mcp/answers']?.[0];
    assert.equal(outcome?.outcome, 'already_decided', JSON.stringify(ack));
    assert.match(outcome.note, /already been decided as "reject"/);
    await pollTask(c, runId, (t) => t.status === 'completed', 'completed');
    assert.equal(posts(postPath), 0, 'the late approve did not run the write');
    const history = (await tool(c, 'get_run_history', { runId })).structuredContent as any;
    const decisions = history.entries.filter((e: any) => e.kind === 'approval');
    assert.deepEqual(
      decisions.map((d: any) => [d.decision, d.channel]),
      [['reject', 'approve_step']],
    );
  });

  it('2025-11-25 over stdio: a form answered after approve_step decided changes nothing, and get_run_result says so', async () => {
    const c = conns.get('stdio-legacy')!;
    const script = `t-late2-${uniq}`;
    const postPath = `/tasks/${script}`;
    model.script(script, [
      { toolCalls: [{ name: 'http_request', arguments: { method: 'POST', url: `${sink.url}${postPath}`, body: 'x' } }] },
      { content: `ended ${script}` },
    ]);
    const runId = ((await tool(c, 'start_agent_run', { task: `Post late [script:${script}]` })).structuredContent as any).runId as string;
    // While the form is open, someone else rejects in chat; then the person approves in the form.
    c.answerFor.set(runId, async () => {
      const status = (await tool(c, 'get_run_status', { runId })).structuredContent as any;
      const approvalId = status.pendingApprovals[0].approvalId;
      await tool(c, 'approve_step', { runId, approvalId, decision: 'reject' });
      return { action: 'accept', content: { decision: 'approve' } };
    });
    const final = await tool(c, 'get_run_result', { runId, waitSeconds: 30 });
    const text = (final.content as any[]).map((p) => p.text).join('\n');
    assert.match(text, /already been decided as "reject" elsewhere/, text);
    await waitFor('the run to complete', async () => ((await tool(c, 'get_run_status', { runId })).structuredContent as any).status === 'completed');
    assert.equal(posts(postPath), 0);
  });

  it('2026-07-28 over stdio: a declined form leaves the approval pending for approve_step', async () => {
    const c = conns.get('stdio-modern')!;
    const script = `t-decline-${uniq}`;
    const postPath = `/tasks/${script}`;
    model.script(script, [
      { toolCalls: [{ name: 'http_request', arguments: { method: 'POST', url: `${sink.url}${postPath}`, body: 'x' } }] },
      { content: `ended ${script}` },
    ]);
    const runId: string = (await startTask(c, { task: `Post after decline [script:${script}]` })).structuredContent.runId;
    await pollTask(c, runId, (t) => t.status === 'input_required', 'input_required');
    c.answerFor.set(runId, () => ({ action: 'decline' }));
    const shown = () => c.forms.filter((f) => f.message.includes(runId)).length;
    assert.equal(shown(), 0);
    const waited = await tool(c, 'get_run_result', { runId, waitSeconds: 3 });
    const status = waited.structuredContent as any;
    assert.equal(status.status, 'waiting_for_approval', JSON.stringify(waited));
    assert.equal(shown(), 1, 'asked once in this call, not again after the decline');
    assert.match((waited.content as any[]).map((p) => p.text).join('\n'), /stays pending/);
    await tool(c, 'approve_step', { runId, approvalId: status.pendingApprovals[0].approvalId, decision: 'approve' });
    await pollTask(c, runId, (t) => t.status === 'completed', 'completed');
    assert.equal(posts(postPath), 1);
  });

  // ---- the wire, raw ----

  const withTasks = (name: string, caps: Record<string, unknown> = { extensions: { [TASKS_EXT]: {} } }) =>
    envelope(name, { 'io.modelcontextprotocol/clientCapabilities': caps });

  it('raw 2026-07-28 over stdio: server/discover, a task answer only for clients that opted in, tasks/get shapes, -32021 without the extension', async () => {
    const raw = rawStdio();
    const discover = (await raw.request(modernRequest('d', 'server/discover'))).result!;
    assert.deepEqual(discover.capabilities.extensions?.[TASKS_EXT], {}, JSON.stringify(discover.capabilities));
    assert.equal(discover.capabilities.tasks, undefined, 'the 2025-11-25 tasks capability does not exist on 2026-07-28');

    const script = `t-raw-${uniq}`;
    model.script(script, [{ content: `raw ${script}` }]);
    const plain = await raw.request(modernRequest(1, 'tools/call', { name: 'start_agent_run', arguments: { task: `Plain [script:${script}]` } }));
    assert.equal(plain.result?.resultType, 'complete', JSON.stringify(plain));
    assert.equal(plain.result?.taskId, undefined, 'no task for a client that did not opt in');
    assert.match(plain.result?.structuredContent?.runId, /^run-/);

    const created = await raw.request(
      modernRequest(2, 'tools/call', { name: 'start_agent_run', arguments: { task: `As task [script:${script}]` } }, withTasks('raw-tasks')),
    );
    const t = created.result!;
    assert.equal(t.resultType, 'task', JSON.stringify(created));
    assert.equal(t.taskId, t.structuredContent.runId);
    assert.equal(t.status, 'working');
    assert.equal(typeof t.statusMessage, 'string');
    assert.ok(Number.isInteger(t.ttlMs) && t.ttlMs >= 3_600_000, `ttlMs ${t.ttlMs}: at least the namespace retention`);
    assert.equal(t.pollIntervalMs, 1000);
    for (const field of ['createdAt', 'lastUpdatedAt']) assert.ok(!Number.isNaN(Date.parse(t[field])), field);

    const refused = await raw.request(modernRequest(3, 'tasks/get', { taskId: t.taskId }));
    assert.equal(refused.error?.code, -32021, JSON.stringify(refused));
    assert.deepEqual(refused.error?.data?.requiredCapabilities, { extensions: { [TASKS_EXT]: {} } });
    for (const [i, method] of ['tasks/result', 'tasks/list'].entries()) {
      const answer = await raw.request(modernRequest(10 + i, method, { taskId: t.taskId }, withTasks('raw-tasks')));
      assert.equal(answer.error?.code, -32601, `${method}: ${JSON.stringify(answer)}`);
    }
    let got: RpcMessage;
    const deadline = Date.now() + 30_000;
    do {
      got = await raw.request(modernRequest(`g-${Date.now()}`, 'tasks/get', { taskId: t.taskId }, withTasks('raw-tasks')));
      if (got.result?.status === 'completed') break;
      await sleep(250);
    } while (Date.now() < deadline);
    const done = got.result!;
    assert.equal(done.resultType, 'complete', JSON.stringify(got));
    assert.equal(done.status, 'completed');
    assert.equal(done.result.structuredContent.status, 'completed');
    assert.equal(done.result.structuredContent.result, `raw ${script}`);
    assert.equal(done.inputRequests, undefined);
    assert.equal(done.error, undefined);
  });

  it('raw 2025-11-25 over stdio: the tasks capability, taskSupport on start_agent_run, CreateTaskResult, tasks/update absent', async () => {
    const raw = rawStdio();
    const init = await raw.request({
      jsonrpc: '2.0',
      id: 1,
      method: 'initialize',
      params: { protocolVersion: '2025-11-25', capabilities: { elicitation: {} }, clientInfo: { name: 'raw-legacy-tasks', version: '1.0.0' } },
    });
    assert.deepEqual(init.result?.capabilities.tasks, { list: {}, cancel: {}, requests: { tools: { call: {} } } }, JSON.stringify(init));
    raw.send({ jsonrpc: '2.0', method: 'notifications/initialized' });
    const tools = (await raw.request({ jsonrpc: '2.0', id: 2, method: 'tools/list', params: {} })).result!.tools as any[];
    assert.deepEqual(tools.find((x) => x.name === 'start_agent_run')?.execution, { taskSupport: 'optional' });
    for (const other of tools.filter((x) => x.name !== 'start_agent_run')) assert.equal(other.execution, undefined, other.name);

    const script = `t-raw2-${uniq}`;
    model.script(script, [{ content: `raw2 ${script}` }]);
    const created = await raw.request({ jsonrpc: '2.0', id: 3, method: 'tools/call', params: { name: 'start_agent_run', arguments: { task: `Task [script:${script}]` }, task: {} } });
    const r = created.result!;
    assert.equal(r.resultType, undefined, '2025-11-25 has no resultType');
    assert.equal(r.task.taskId, r.structuredContent.runId, JSON.stringify(r));
    assert.equal(r.task.status, 'working');
    assert.ok(Number.isInteger(r.task.ttl) && r.task.ttl >= 3_600_000, 'ttl defaulted for task: {}');
    assert.equal(r.task.pollInterval, 1000);
    assert.match(r._meta['io.modelcontextprotocol/model-immediate-response'], /as a task/);
    const plain = await raw.request({ jsonrpc: '2.0', id: 4, method: 'tools/call', params: { name: 'start_agent_run', arguments: { task: `Plain [script:${script}]` } } });
    assert.equal(plain.result?.task, undefined);
    const notATask = await raw.request({ jsonrpc: '2.0', id: 7, method: 'tools/call', params: { name: 'list_runs', arguments: {}, task: {} } });
    assert.equal(notATask.error?.code, -32601, `a tool without taskSupport refuses params.task: ${JSON.stringify(notATask)}`);
    const update = await raw.request({ jsonrpc: '2.0', id: 5, method: 'tasks/update', params: { taskId: r.task.taskId, inputResponses: {} } });
    assert.equal(update.error?.code, -32601, JSON.stringify(update));
    const result = await raw.request({ jsonrpc: '2.0', id: 6, method: 'tasks/result', params: { taskId: r.task.taskId } }, 60_000);
    assert.equal(result.result?.structuredContent.result, `raw2 ${script}`, JSON.stringify(result));
    assert.deepEqual(result.result?._meta[RELATED_TASK], { taskId: r.task.taskId });
    const statuses = raw.messages.filter((m) => m.method === 'notifications/tasks/status' && m.params?.taskId === r.task.taskId);
    await waitFor('a completed status notification', () =>
      raw.messages.some((m) => m.method === 'notifications/tasks/status' && m.params?.taskId === r.task.taskId && m.params?.status === 'completed'),
    );
    for (const n of statuses) assert.equal(n.params?.[RELATED_TASK], undefined);
  });

  it('--no-elicitation: no forms; the task stays working and says approve_step; get_run_result answers at once', async () => {
    const raw = rawStdio({ DURABLE_AGENT_NO_ELICITATION: '1' });
    const script = `t-noel-${uniq}`;
    const postPath = `/tasks/${script}`;
    model.script(script, [
      { toolCalls: [{ name: 'http_request', arguments: { method: 'POST', url: `${sink.url}${postPath}`, body: 'x' } }] },
      { content: `ended ${script}` },
    ]);
    const caps = { elicitation: { form: {} }, extensions: { [TASKS_EXT]: {} } };
    const created = await raw.request(modernRequest(1, 'tools/call', { name: 'start_agent_run', arguments: { task: `No forms [script:${script}]` } }, withTasks('raw-noel', caps)));
    const taskId = created.result!.taskId as string;
    await waitFor('the run to wait for approval', async () => {
      const status = await raw.request(modernRequest(`s-${Date.now()}`, 'tools/call', { name: 'get_run_status', arguments: { runId: taskId } }));
      return status.result?.structuredContent?.status === 'waiting_for_approval';
    });
    const task = (await raw.request(modernRequest('g', 'tasks/get', { taskId }, withTasks('raw-noel', caps)))).result!;
    assert.equal(task.status, 'working', JSON.stringify(task));
    assert.match(task.statusMessage, /approve_step/);
    assert.equal(task.inputRequests, undefined);
    const waited = await raw.request(modernRequest('r', 'tools/call', { name: 'get_run_result', arguments: { runId: taskId, waitSeconds: 1 } }, withTasks('raw-noel', caps)));
    assert.equal(waited.result?.resultType, 'complete', JSON.stringify(waited));
    assert.equal(waited.result?.structuredContent.status, 'waiting_for_approval');
    await raw.request(modernRequest('c', 'tasks/cancel', { taskId }, withTasks('raw-noel', caps)));
    assert.equal(posts(postPath), 0);
  });

  // ---- notifications/tasks over subscriptions/listen (2026-07-28) ----

  it('raw 2026-07-28 over stdio: subscriptions/listen with taskIds acknowledges the caller\'s tasks and sends each change as notifications/tasks', async () => {
    const raw = rawStdio();
    const caps = { elicitation: { form: {} }, extensions: { [TASKS_EXT]: {} } };
    const script = `t-listen-${uniq}`;
    const postPath = `/tasks/${script}`;
    model.script(script, [
      { toolCalls: [{ name: 'http_request', arguments: { method: 'POST', url: `${sink.url}${postPath}`, body: 'x' } }] },
      { content: `heard ${script}` },
    ]);
    const created = await raw.request(modernRequest(1, 'tools/call', { name: 'start_agent_run', arguments: { task: `Listen [script:${script}]` } }, withTasks('raw-listen', caps)));
    const taskId = created.result!.taskId as string;

    const refused = await raw.request(modernRequest('l-0', 'subscriptions/listen', { notifications: { taskIds: [taskId] } }));
    assert.equal(refused.error?.code, -32021, JSON.stringify(refused));

    raw.send(modernRequest('l-1', 'subscriptions/listen', { notifications: { taskIds: [taskId, `no-such-${uniq}`] } }, withTasks('raw-listen', caps)));
    const forListen = (m: RpcMessage) => m.params?._meta?.['io.modelcontextprotocol/subscriptionId'] === 'l-1';
    let ack: RpcMessage | undefined;
    await waitFor('the acknowledgement', () => (ack = raw.messages.find((m) => m.method === 'notifications/subscriptions/acknowledged' && forListen(m))) !== undefined);
    assert.deepEqual(ack!.params?.notifications, { taskIds: [taskId] }, 'only the caller\'s own task is acknowledged');

    const taskNotes = () => raw.messages.filter((m) => m.method === 'notifications/tasks' && forListen(m) && m.params?.taskId === taskId);
    let waiting: RpcMessage | undefined;
    await waitFor('an input_required notification', () => (waiting = taskNotes().find((m) => m.params?.status === 'input_required')) !== undefined);
    const key = Object.keys(waiting!.params!.inputRequests)[0]!;
    assert.equal(waiting!.params!.inputRequests[key].method, 'elicitation/create');
    await raw.request(
      modernRequest('u', 'tasks/update', { taskId, inputResponses: { [key]: { action: 'accept', content: { decision: 'approve' } } } }, withTasks('raw-listen', caps)),
    );
    let done: RpcMessage | undefined;
    await waitFor('a completed notification', () => (done = taskNotes().find((m) => m.params?.status === 'completed')) !== undefined);
    assert.equal(done!.params!.result.structuredContent.result, `heard ${script}`);
    assert.ok(!Number.isNaN(Date.parse(done!.params!.lastUpdatedAt)));
    assert.equal(posts(postPath), 1);
    const statuses = taskNotes().map((m) => m.params?.status);
    assert.deepEqual([...new Set(statuses)].filter((st) => st !== 'working'), ['input_required', 'completed'], JSON.stringify(statuses));
    // Cancelling the listen ends it: no acknowledgement of another kind, and the process keeps serving.
    raw.send({ jsonrpc: '2.0', method: 'notifications/cancelled', params: { requestId: 'l-1', _meta: envelope('raw-listen') } });
    const ping = await raw.request(modernRequest('after', 'tools/call', { name: 'list_runs', arguments: { limit: 1 } }));
    assert.ok(ping.result, JSON.stringify(ping));
  });

  it('2026-07-28 over HTTP: subscriptions/listen with taskIds streams notifications/tasks as SSE, with the bearer principal', async () => {
    const caps = { elicitation: { form: {} }, extensions: { [TASKS_EXT]: {} } };
    const script = `t-listen-http-${uniq}`;
    model.script(script, [{ delayMs: 1_000, then: { content: `heard over http ${script}` } }]);
    const start = modernRequest(1, 'tools/call', { name: 'start_agent_run', arguments: { task: `Listen [script:${script}]` } }, withTasks('http-listen', caps));
    const created = await fetch(url, { method: 'POST', headers: { ...modernHeaders(start), authorization: `Bearer ${TOKEN}` }, body: JSON.stringify(start) });
    const taskId = ((await created.json()) as RpcMessage).result!.taskId as string;
    const listen = modernRequest('hl', 'subscriptions/listen', { notifications: { taskIds: [taskId] } }, withTasks('http-listen', caps));
    const abort = new AbortController();
    const res = await fetch(url, { method: 'POST', headers: { ...modernHeaders(listen), authorization: `Bearer ${TOKEN}` }, body: JSON.stringify(listen), signal: abort.signal });
    assert.equal(res.status, 200);
    assert.match(res.headers.get('content-type') ?? '', /text\/event-stream/);
    const reader = res.body!.getReader();
    let text = '';
    const seen: RpcMessage[] = [];
    const deadline = Date.now() + 30_000;
    while (!seen.some((m) => m.method === 'notifications/tasks' && m.params?.status === 'completed') && Date.now() < deadline) {
      const { value, done } = await reader.read();
      if (done) break;
      text += Buffer.from(value).toString('utf8');
      seen.splice(0, seen.length, ...parseRpcBody('text/event-stream', text.slice(0, text.lastIndexOf('\n\n') + 2)));
    }
    abort.abort();
    assert.deepEqual(seen[0]?.params?.notifications, { taskIds: [taskId] }, JSON.stringify(seen[0]));
    const completed = seen.find((m) => m.method === 'notifications/tasks' && m.params?.status === 'completed');
    assert.equal(completed?.params?.result?.structuredContent?.result, `heard over http ${script}`, JSON.stringify(seen));
    assert.equal(completed?.params?._meta?.['io.modelcontextprotocol/subscriptionId'], 'hl');
  });

  it('2025-11-25 over http: tasks/result asks the pending approval while it blocks, then returns the final result', async () => {
    const c = conns.get('http-legacy')!;
    const script = `t-result-${uniq}`;
    const postPath = `/tasks/${script}`;
    model.script(script, [
      { toolCalls: [{ name: 'http_request', arguments: { method: 'POST', url: `${sink.url}${postPath}`, body: 'x' } }] },
      { content: `blocked then done ${script}` },
    ]);
    const created = await startTask(c, { task: `Block [script:${script}]` });
    const runId: string = created.task.taskId;
    c.answerFor.set(runId, () => ({ action: 'accept', content: { decision: 'approve' } }));
    const result = await request(c, 'tasks/result', { taskId: runId }, 90_000);
    assert.equal(result.structuredContent.result, `blocked then done ${script}`, JSON.stringify(result));
    assert.ok(c.forms.some((f) => f.message.includes(runId) && f.meta?.[RELATED_TASK]?.taskId === runId), 'the form came while tasks/result blocked');
    assert.equal(posts(postPath), 1);
  });

  for (const era of ['modern', 'legacy'] as const) {
    it(`${era === 'modern' ? '2026-07-28' : '2025-11-25'} over http: a run that fails is a failed task whose error text reaches the user`, async () => {
      const c = conns.get(`http-${era}`)!;
      const script = `t-fail-${era}-${uniq}`;
      model.script(script, [{ status: 401, body: { error: { message: 'bad key for the test', type: 'invalid_request_error' } } }]);
      const created = await startTask(c, { task: `Fail [script:${script}]` });
      const runId: string = created.structuredContent.runId;
      const failed = await pollTask(c, runId, (t) => t.status === 'failed', 'failed');
      assert.match(failed.statusMessage, /^Run failed: .*401/s, JSON.stringify(failed));
      if (era === 'modern') {
        assert.equal(failed.error.code, -32603);
        assert.match(failed.error.message, /401/);
        assert.equal(failed.error.data.runStatus.status, 'failed');
      } else {
        const result = await request(c, 'tasks/result', { taskId: runId });
        assert.equal(result.isError, true);
        assert.match(result.content[0].text, /^Run failed: /);
        assert.equal(result.structuredContent.status, 'failed');
      }
    });
  }
});
