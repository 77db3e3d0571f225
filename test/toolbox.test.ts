/**
 * The agent's toolbox end to end: real MCP servers from npm (filesystem, memory) and a counting
 * test server as agent tools, the workspace tools, send_message and maxTokens. The MCP server runs
 * with `serve --no-worker`; the worker is its own process so a test can kill it mid-call.
 */
import assert from 'node:assert/strict';
import { spawn, type ChildProcess } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { after, before, describe, it } from 'node:test';
import { loadMcpConfig } from '../src/activities/mcpServers.js';
import { toolAllowed } from '../src/shared/toolbox.js';
import { startModelServer, type ModelServer, type Step } from './support/modelServer.js';
import { startHttpMcpServer, type HttpMcpServer } from './support/httpMcpServer.js';
import { startSinkServer, type SinkServer } from './support/sinkServer.js';
import { callTool, cliPath, repoRoot, spawnServer, type SpawnedServer } from './support/mcpStdio.js';
import { processesMentioning } from './support/service.js';
import { runHelpers, toolMessages, type RunView } from './support/runs.js';
import { startDevServer, type DevServer } from './support/temporal.js';
import { waitFor } from './support/wait.js';

const tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'da-toolbox-'));
const fsRoot = path.join(tmp, 'fs');
const workspace = path.join(tmp, 'ws');
const outside = path.join(tmp, 'outside');
const counting = { log: path.join(tmp, 'counting.log'), out: path.join(tmp, 'counting.out') };
const countingRo = { log: path.join(tmp, 'counting-ro.log'), out: path.join(tmp, 'counting-ro.out') };
const serverScript = (pkg: string) => path.join(repoRoot, 'node_modules', '@modelcontextprotocol', pkg, 'dist', 'index.js');
const countingScript = path.join(repoRoot, 'dist', 'test', 'support', 'countingMcpServer.js');

const mcpConfig = (remoteUrl: string) => ({
  mcpServers: {
    fs: { command: process.execPath, args: [serverScript('server-filesystem'), fsRoot] },
    memory: { command: process.execPath, args: [serverScript('server-memory')], env: { MEMORY_FILE_PATH: path.join(tmp, 'memory.jsonl') } },
    counting: { command: process.execPath, args: [countingScript, tmp], env: { COUNTING_MCP_LOG: counting.log, COUNTING_MCP_OUT: counting.out } },
    'counting-ro': {
      command: process.execPath,
      args: [countingScript, tmp],
      env: { COUNTING_MCP_LOG: countingRo.log, COUNTING_MCP_OUT: countingRo.out },
      kinds: { '*': 'read' },
    },
    broken: { command: path.join(tmp, 'no-such-mcp-server') },
    remote: { url: remoteUrl, headers: { Authorization: 'Bearer s3cret' } },
  },
});

const call = (name: string, args: Record<string, unknown> = {}): Step => ({ toolCalls: [{ name, arguments: args }] });
const lines = (file: string) => (fs.existsSync(file) ? fs.readFileSync(file, 'utf8').split('\n').filter(Boolean) : []);

describe('the agent toolbox: MCP servers, workspace, send_message, maxTokens', { timeout: 8 * 60_000 }, () => {
  let dev: DevServer;
  let model: ModelServer;
  let sink: SinkServer;
  let remote: HttpMcpServer;
  let server: SpawnedServer;
  let worker: ChildProcess | undefined;
  let workerStderr = '';
  const runs = runHelpers(() => server.client);

  /** The whole timeline of a run, read page by page. */
  async function history(runId: string, limit = 50): Promise<Array<Record<string, unknown> & { kind: string; tool?: string; attempts?: number }>> {
    const entries = [];
    let cursor: string | undefined;
    do {
      const res = await callTool(server.client, 'get_run_history', { runId, limit, ...(cursor ? { cursor } : {}) });
      assert.ok(!res.isError, JSON.stringify(res.content));
      const page = res.structuredContent as { entries: Array<Record<string, unknown> & { kind: string }>; nextCursor?: string };
      assert.ok(page.entries.length <= limit);
      entries.push(...page.entries);
      cursor = page.nextCursor;
    } while (cursor);
    return entries;
  }

  function env(): Record<string, string | undefined> {
    return {
      TEMPORAL_ADDRESS: dev.address,
      OPENAI_BASE_URL: model.baseUrl,
      OPENAI_API_KEY: 'test-key',
      DURABLE_AGENT_MODEL: 'test-model',
      DURABLE_AGENT_HOME: path.join(tmp, 'home'),
      DURABLE_AGENT_TASK_QUEUE: `toolbox-${process.pid}`,
      DURABLE_AGENT_MCP_CONFIG: path.join(tmp, 'mcp.json'),
      DURABLE_AGENT_WORKSPACE: workspace,
      DURABLE_AGENT_NO_SERVICE: '1',
      DURABLE_AGENT_HTTP_ALLOW: '127.0.0.1', // the sink is on loopback, which http_request refuses by default
    };
  }
  async function startWorker(): Promise<void> {
    const e: Record<string, string> = {};
    for (const [k, v] of Object.entries({ ...process.env, ...env() })) if (v !== undefined) e[k] = v;
    worker = spawn(process.execPath, [cliPath, 'worker'], { env: e, stdio: ['ignore', 'ignore', 'pipe'] });
    worker.stderr?.on('data', (c: Buffer) => (workerStderr += c.toString()));
    await waitFor('the worker to poll', () => workerStderr.includes('worker polling'));
  }
  async function stopWorker(signal: NodeJS.Signals): Promise<void> {
    const w = worker;
    if (!w || w.exitCode !== null || w.signalCode !== null) return;
    const exited = new Promise<void>((resolve) => w.once('exit', () => resolve()));
    w.kill(signal);
    await exited;
  }

  before(async () => {
    for (const dir of [fsRoot, workspace, outside]) fs.mkdirSync(dir, { recursive: true });
    fs.writeFileSync(path.join(fsRoot, 'seed.txt'), 'seed');
    fs.writeFileSync(path.join(workspace, 'a.txt'), 'alpha');
    fs.writeFileSync(path.join(outside, 'secret.txt'), 'secret');
    fs.symlinkSync(outside, path.join(workspace, 'escape'));
    [dev, model, sink, remote] = await Promise.all([startDevServer(), startModelServer(), startSinkServer(), startHttpMcpServer('s3cret')]);
    fs.writeFileSync(path.join(tmp, 'mcp.json'), JSON.stringify(mcpConfig(remote.url), null, 2));
    server = await spawnServer({ env: env(), args: ['serve', '--no-worker'] });
    await startWorker();
  });
  after(async () => {
    await stopWorker('SIGKILL');
    await server?.close();
    await Promise.all([dev?.stop(), model?.close(), sink?.close(), remote?.close()]);
  });

  it('offers workspace and MCP tools as <server>__<tool>; a server that will not start is a warning, not a crash', async () => {
    model.script('offer', [{ content: 'ok' }]);
    const all = await runs.result(await runs.start({ task: 'offer [script:offer]' }));
    assert.equal(all.status, 'completed');
    const names = (model.requests('offer')[0].tools as Array<{ function: { name: string } }>).map((t) => t.function.name);
    for (const expected of ['http_request', 'workspace_read', 'workspace_write', 'workspace_list', 'fs__write_file', 'fs__read_text_file', 'memory__read_graph', 'counting__append_line']) {
      assert.ok(names.includes(expected), `${expected} offered; got ${names.join(', ')}`);
    }
    assert.ok(!names.some((n) => n.startsWith('broken__')));
    assert.match((all.warnings ?? []).join('\n'), /MCP server "broken" is unavailable/);
    assert.match(workerStderr, /broken/, 'the broken server is reported on the worker\'s stderr');

    model.script('only-fs', [{ content: 'ok' }]);
    await runs.result(await runs.start({ task: 'fs only [script:only-fs]', tools: ['fs__*'] }));
    const fsNames = (model.requests('only-fs')[0].tools as Array<{ function: { name: string } }>).map((t) => t.function.name);
    assert.ok(fsNames.length > 3 && fsNames.every((n) => n.startsWith('fs__')), fsNames.join(', '));
  });

  it('filesystem server: a read runs at once, a write waits for approval; after it the file exists with its content once', async () => {
    const target = path.join(fsRoot, 'hello.txt');
    model.script('fs', [call('fs__list_directory', { path: fsRoot }), call('fs__write_file', { path: target, content: 'hello world' }), { content: 'written' }]);
    const runId = await runs.start({ task: 'write a file [script:fs]' });
    const waiting = await runs.waitForApproval(runId);
    assert.equal(waiting.pendingApprovals[0]?.tool, 'fs__write_file');
    assert.equal(model.requests('fs').length, 2, 'the read ran without approval');
    assert.match(toolMessages(model.requests('fs')[1]).join('\n'), /seed\.txt/);
    assert.ok(!fs.existsSync(target), 'nothing written before approval');
    await runs.decide(runId, waiting.pendingApprovals[0]!.approvalId, 'approve');
    // The worker dies as the approved write starts; the next one finishes it.
    await stopWorker('SIGKILL');
    await startWorker();
    const final = await runs.result(runId);
    assert.equal(final.status, 'completed');
    assert.equal(fs.readFileSync(target, 'utf8'), 'hello world');
  });

  it('memory server: a write then a read; a tool error result and the config\'s kinds override', async () => {
    model.script('memory', [
      call('memory__create_entities', { entities: [{ name: 'Ada', entityType: 'person', observations: ['wrote the first program'] }] }),
      call('memory__read_graph'),
      call('counting-ro__fail_always'),
      { content: 'remembered' },
    ]);
    const final = await runs.result(await runs.start({ task: 'remember [script:memory]', approval: 'none' }));
    assert.equal(final.status, 'completed', JSON.stringify(final));
    const requests = model.requests('memory');
    assert.match(toolMessages(requests[2]).at(-1) ?? '', /Ada/);
    assert.match(toolMessages(requests[3]).at(-1) ?? '', /always fails/);

    // kinds: { "*": "read" } makes counting-ro's write tool a read: no approval under "writes".
    model.script('ro', [call('counting-ro__append_line', { text: 'ro-1' }), { content: 'ok' }]);
    const ro = await runs.result(await runs.start({ task: 'ro [script:ro]' }));
    assert.equal(ro.status, 'completed');
    assert.deepEqual(lines(countingRo.out), ['ro-1']);
  });

  it('worker killed during an MCP tool call: the retry carries the same idempotency key in _meta; the effect happens once', async () => {
    model.script('mcp-crash', [call('counting__append_line', { text: 'slow-crash' }), { content: 'appended once' }]);
    const runId = await runs.start({ task: 'append [script:mcp-crash]', approval: 'none' });
    await waitFor('the call to reach the MCP server', () => lines(counting.log).some((l) => l.includes('slow-crash')));
    await stopWorker('SIGKILL');
    await startWorker();
    const final = await runs.result(runId);
    assert.equal(final.status, 'completed', JSON.stringify(final));
    assert.deepEqual(lines(counting.out).filter((l) => l === 'slow-crash'), ['slow-crash'], 'the effect happened once');
    const deliveries = lines(counting.log).map((l) => JSON.parse(l) as { key: string; text: string }).filter((c) => c.text === 'slow-crash');
    assert.ok(deliveries.length >= 2, `the call was delivered again after the crash (${deliveries.length})`);
    assert.equal(new Set(deliveries.map((d) => d.key)).size, 1, 'with the same key');
    assert.match(deliveries[0]!.key, new RegExp(`^${runId}/1-0$`));
    // The timeline shows the call and how many attempts it took.
    const entries = await history(runId);
    const appended = entries.find((e) => e.kind === 'tool_call' && e.tool === 'counting__append_line');
    assert.ok(appended && (appended.attempts ?? 0) >= 2, JSON.stringify(appended));
  });

  it('a Streamable HTTP MCP server with headers from the config; its read tool runs without approval', async () => {
    model.script('remote', [call('remote__lookup', { q: 'ada' }), { content: 'found' }]);
    const runId = await runs.start({ task: 'remote [script:remote]' });
    assert.equal((await runs.result(runId)).status, 'completed');
    assert.match(toolMessages(model.requests('remote')[1]).join(''), /found ada over HTTP/);
    const lookup = remote.calls.find((c) => c.tool === 'lookup');
    assert.equal(lookup?.key, `${runId}/1-0`, 'the idempotency key travels in _meta over HTTP too');
    assert.equal(remote.unauthorized, 0, 'the configured Authorization header was sent');
  });

  it('an MCP server that dies between calls is started again on the next call', async () => {
    const calls = () => lines(counting.log).map((l) => JSON.parse(l) as { text: string; pid: number });
    model.script('mcp-before', [call('counting__append_line', { text: 'before-kill' }), { content: 'ok' }]);
    assert.equal((await runs.result(await runs.start({ task: 'before [script:mcp-before]', approval: 'none' }))).status, 'completed');
    const first = calls().find((c) => c.text === 'before-kill')!;
    process.kill(first.pid, 'SIGKILL');
    model.script('mcp-after', [call('counting__append_line', { text: 'after-kill' }), { content: 'ok' }]);
    const final = await runs.result(await runs.start({ task: 'after [script:mcp-after]', approval: 'none' }));
    assert.equal(final.status, 'completed');
    const second = calls().find((c) => c.text === 'after-kill');
    assert.ok(second && second.pid !== first.pid, 'a new server process answered');
    assert.match(toolMessages(model.requests('mcp-after')[1]).join(''), /appended "after-kill"/);
  });

  it('workspace tools: reads run at once, writes wait; absolute paths, .. and symlink escapes are refused', async () => {
    model.script('ws-escape', [
      {
        toolCalls: [
          { name: 'workspace_list', arguments: {} },
          { name: 'workspace_read', arguments: { path: 'a.txt' } },
          { name: 'workspace_read', arguments: { path: '../outside/secret.txt' } },
          { name: 'workspace_read', arguments: { path: '/etc/passwd' } },
          { name: 'workspace_read', arguments: { path: 'escape/secret.txt' } },
          { name: 'workspace_write', arguments: { path: 'escape/pwn.txt', content: 'x' } },
        ],
      },
      { content: 'refused' },
    ]);
    const free = await runs.result(await runs.start({ task: 'escape [script:ws-escape]', approval: 'none' }));
    assert.equal(free.status, 'completed');
    const [listed, read, dotdot, absolute, viaLink, writeViaLink] = toolMessages(model.requests('ws-escape')[1]);
    assert.match(listed!, /a\.txt \(5 bytes\)/);
    assert.equal(read, 'alpha');
    assert.match(dotdot!, /outside the workspace/);
    assert.match(absolute!, /absolute/);
    assert.match(viaLink!, /symbolic link/);
    assert.match(writeViaLink!, /symbolic link/);
    assert.ok(!fs.existsSync(path.join(outside, 'pwn.txt')));

    model.script('ws-write', [call('workspace_read', { path: 'a.txt' }), call('workspace_write', { path: 'notes/b.txt', content: 'beta' }), { content: 'done' }]);
    const runId = await runs.start({ task: 'write [script:ws-write]' });
    const waiting = await runs.waitForApproval(runId);
    assert.equal(waiting.pendingApprovals[0]?.tool, 'workspace_write');
    assert.match(waiting.pendingApprovals[0]!.summary, /notes\/b\.txt/);
    await runs.decide(runId, waiting.pendingApprovals[0]!.approvalId, 'approve');
    await stopWorker('SIGKILL');
    await startWorker();
    assert.equal((await runs.result(runId)).status, 'completed');
    assert.equal(fs.readFileSync(path.join(workspace, 'notes', 'b.txt'), 'utf8'), 'beta');

    // get_run_history, read in pages of 2: every turn, tool call and decision, in order.
    const entries = await history(runId, 2);
    const kinds = entries.map((e) => e.kind);
    assert.deepEqual(kinds, ['started', 'llm_turn', 'tool_call', 'llm_turn', 'approval', 'tool_call', 'llm_turn', 'closed'], JSON.stringify(entries, null, 1));
    assert.equal(entries[2]!.tool, 'workspace_read');
    assert.equal(entries[2]!.result, 'alpha');
    assert.equal(entries[4]!.decision, 'approve');
    assert.ok(entries[4]!.by, 'who decided (the client identity)');
    assert.deepEqual(entries[5]!.arguments, { path: 'notes/b.txt', content: 'beta' });
    assert.equal(entries[7]!.ok, true);
    const bad = await callTool(server.client, 'get_run_history', { runId, cursor: 'nonsense' });
    assert.equal(bad.isError, true);
  });

  it('wait: a durable timer shown in the status; a caller message ends it early', async () => {
    model.script('wait', [call('wait', { seconds: 3, reason: 'the nightly build' }), { content: 'waited' }]);
    const runId = await runs.start({ task: 'wait [script:wait]' });
    let seen: RunView | undefined;
    await waitFor('the wait to show in the status', async () => {
      seen = await runs.status(runId);
      return Boolean(seen.waiting);
    });
    assert.equal(seen!.waiting!.reason, 'the nightly build');
    assert.ok(Date.parse(seen!.waiting!.until) > Date.now());
    assert.equal((await runs.result(runId)).status, 'completed');
    assert.match(toolMessages(model.requests('wait')[1]).join(''), /Waited 3 s/);

    model.script('wake', [call('wait', { seconds: 3600, reason: 'a reply' }), { content: 'woken' }]);
    const woken = await runs.start({ task: 'wake [script:wake]' });
    await waitFor('the long wait', async () => Boolean((await runs.status(woken)).waiting));
    await callTool(server.client, 'send_message', { runId: woken, message: 'the reply is here' });
    assert.equal((await runs.result(woken)).status, 'completed');
    assert.match(toolMessages(model.requests('wake')[1]).join(''), /Woke early/);
  });

  it('delegate: a sub-agent is a run of its own, listed with its parent; depth is limited to 2; cancelling the parent cancels it', async () => {
    model.script('parent', [call('delegate', { task: 'look it up [script:child]', maxSteps: 3 }), { content: 'parent done' }]);
    model.script('child', [call('delegate', { task: 'dig deeper [script:grandchild]' }), { content: 'child answer' }]);
    model.script('grandchild', [{ content: 'grandchild answer' }]);
    const runId = await runs.start({ task: 'delegate [script:parent]', approval: 'none' });
    const final = await runs.result(runId);
    assert.equal(final.status, 'completed', JSON.stringify(final));
    const childId = `${runId}.sub-1-0`;
    assert.deepEqual((final as RunView & { children?: unknown }).children, [{ runId: childId, task: 'look it up [script:child]', status: 'completed' }]);
    assert.match(toolMessages(model.requests('parent')[1]).join(''), /child answer/);
    const names = (script: string) => (model.requests(script)[0].tools as Array<{ function: { name: string } }>).map((t) => t.function.name);
    assert.ok(names('child').includes('delegate'), 'depth 1 may delegate');
    assert.ok(!names('grandchild').includes('delegate'), 'depth 2 may not');
    const child = (await runs.status(childId)) as RunView & { parentRunId?: string };
    assert.equal(child.parentRunId, runId);
    const listed = await callTool(server.client, 'list_runs', { limit: 100 });
    const summaries = (listed.structuredContent as { runs: Array<{ runId: string; parentRunId?: string }> }).runs;
    assert.equal(summaries.find((r) => r.runId === childId)?.parentRunId, runId);

    // The worker dies while a sub-agent's model call is in flight: after a restart both runs finish,
    // and the sub-agent's completed calls are not sent again.
    model.script('parentc', [call('delegate', { task: 'crash here [script:childc]' }), { content: 'parent after the crash' }]);
    model.script('childc', [
      call('http_request', { method: 'GET', url: `${sink.url}/childc` }),
      { delayMs: 30_000, then: { content: 'never' } },
      { content: 'child after the crash' },
    ]);
    const parentc = await runs.start({ task: 'crash [script:parentc]', approval: 'none' });
    await waitFor('the sub-agent\'s slow call', () => model.requests('childc').length === 2);
    await stopWorker('SIGKILL');
    await startWorker();
    const afterCrash = await runs.result(parentc);
    assert.equal(afterCrash.status, 'completed', JSON.stringify(afterCrash));
    assert.equal(afterCrash.result, 'parent after the crash');
    assert.match(toolMessages(model.requests('parentc')[1]).join(''), /child after the crash/);
    const childTurn0 = model.requests('childc').filter((r) => !r.messages.some((m: { role: string }) => m.role === 'assistant'));
    assert.equal(childTurn0.length, 1, 'the sub-agent\'s first call was not resent');
    assert.equal(sink.requests().filter((r) => r.path === '/childc').length, 1);

    model.script('parent2', [call('delegate', { task: 'slow [script:slowchild]' }), { content: 'never' }]);
    model.script('slowchild', [{ delayMs: 60_000, then: { content: 'never' } }]);
    const parent2 = await runs.start({ task: 'cancel me [script:parent2]', approval: 'none' });
    await waitFor('the sub-agent\'s model call', () => model.requests('slowchild').length === 1);
    const cancelled = await callTool(server.client, 'cancel_run', { runId: parent2 });
    assert.equal((cancelled.structuredContent as { status: string }).status, 'cancelled');
    await waitFor('the sub-agent to be cancelled', async () => (await runs.status(`${parent2}.sub-1-0`)).status === 'cancelled');
  });

  it('send_message reaches the model before its next turn; a closed or unknown run refuses it', async () => {
    model.script('steer', [{ delayMs: 2_500, then: call('http_request', { method: 'GET', url: `${sink.url}/steer` }) }, { content: 'heard you' }]);
    const runId = await runs.start({ task: 'steer [script:steer]' });
    await waitFor('the first model call', () => model.requests('steer').length === 1);
    const sent = await callTool(server.client, 'send_message', { runId, message: 'use the staging server' });
    assert.ok(!sent.isError, JSON.stringify(sent.content));
    assert.equal((sent.structuredContent as { delivered: boolean }).delivered, true);
    assert.equal((await runs.result(runId)).status, 'completed');
    const second = model.requests('steer')[1] as { messages: Array<{ role: string; content: string }> };
    assert.ok(second.messages.some((m) => m.role === 'user' && m.content.includes('use the staging server')));
    const closed = await callTool(server.client, 'send_message', { runId, message: 'too late' });
    assert.equal(closed.isError, true);
    assert.match(JSON.stringify(closed.content), /completed/);
    const unknown = await callTool(server.client, 'send_message', { runId: 'run-nope', message: 'hi' });
    assert.equal(unknown.isError, true);
  });

  it('maxTokens: the run fails once its token budget is spent, with the reason and usage', async () => {
    const get = { name: 'http_request', arguments: { method: 'GET', url: `${sink.url}/tokens` } };
    const usage = { prompt_tokens: 100, completion_tokens: 50 };
    model.script('tokens', [{ toolCalls: [get], usage }, { toolCalls: [get], usage }, { toolCalls: [get], usage }, { content: 'never' }]);
    const final = await runs.result(await runs.start({ task: 'spend [script:tokens]', maxTokens: 250 }));
    assert.equal(final.status, 'failed');
    assert.match(final.error ?? '', /maxTokens budget of 250/);
    assert.equal(final.usage.inputTokens + final.usage.outputTokens, 300);
    assert.equal(model.requests('tokens').length, 2);
  });

  it('a graceful worker stop closes its MCP server connections: no server process is left', async () => {
    await stopWorker('SIGTERM');
    await waitFor('the MCP servers to exit', () => processesMentioning(tmp).length === 0, 15_000);
    await startWorker();
  });
});

describe('toolbox configuration', () => {
  it('a bad MCP config is reported with where it is wrong, not thrown', () => {
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'da-mcpcfg-'));
    const bad = (name: string, text: string) => {
      fs.writeFileSync(path.join(dir, name), text);
      return loadMcpConfig(path.join(dir, name)).problem?.error ?? '';
    };
    assert.match(bad('a.json', '{not json'), /cannot read the MCP config/);
    assert.match(bad('b.json', JSON.stringify({ mcpServers: { x: { args: [] } } })), /invalid at mcpServers\.x/);
    assert.match(bad('c.json', JSON.stringify({ mcpServers: { 'a__b': { command: 'x' } } })), /invalid at mcpServers/);
    assert.match(loadMcpConfig(path.join(dir, 'missing.json')).problem?.error ?? '', /cannot read/);
    assert.deepEqual(Object.keys(loadMcpConfig(path.join(dir, 'b.json')).servers), []);
  });

  it('tool patterns: exact names, <server>__*, and *', () => {
    assert.ok(toolAllowed('fs__read', ['fs__*']));
    assert.ok(!toolAllowed('fsx__read', ['fs__*']));
    assert.ok(toolAllowed('anything', ['*']));
    assert.ok(toolAllowed('http_request', ['http_request']));
    assert.ok(!toolAllowed('workspace_read', ['http_request']));
  });
});
