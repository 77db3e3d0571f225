/**
 * Robustness: big tool output is cut before it enters history, Temporal being unreachable gives
 * prompt errors without killing the server, and hundreds of bad inputs leave the server and runs
 * in flight unharmed.
 */
import assert from 'node:assert/strict';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { after, before, describe, it } from 'node:test';
import { startModelServer, type ModelServer } from './support/modelServer.js';
import { startSinkServer, type SinkServer } from './support/sinkServer.js';
import { callTool, spawnServer, type SpawnedServer } from './support/mcpStdio.js';
import { freePort, startDevServer, type DevServer } from './support/temporal.js';

describe('robustness (e2e)', { timeout: 10 * 60_000 }, () => {
  let dev: DevServer;
  let model: ModelServer;
  let sink: SinkServer;
  let server: SpawnedServer;
  const baseEnv = (): Record<string, string | undefined> => ({
    OPENAI_BASE_URL: model.baseUrl,
    OPENAI_API_KEY: 'test-key',
    DURABLE_AGENT_MODEL: 'test-model',
    DURABLE_AGENT_HOME: fs.mkdtempSync(path.join(os.tmpdir(), 'da-home-')),
    DURABLE_AGENT_NO_SERVICE: '1',
    DURABLE_AGENT_HTTP_ALLOW: '127.0.0.1', // the sink is on loopback, which http_request refuses by default
  });

  before(async () => {
    [dev, model, sink] = await Promise.all([startDevServer(), startModelServer(), startSinkServer()]);
    server = await spawnServer({ env: { ...baseEnv(), TEMPORAL_ADDRESS: dev.address, DURABLE_AGENT_TASK_QUEUE: `robust-${process.pid}` } });
  });
  after(async () => {
    await server?.close();
    await Promise.all([dev?.stop(), model?.close(), sink?.close()]);
  });

  it('a tool answering 5 MB does not break the run; the model sees a cut observation', async () => {
    model.script('big', [
      { toolCalls: [{ name: 'http_request', arguments: { method: 'GET', url: `${sink.url}/big` } }] },
      { content: 'read the big thing' },
    ]);
    const started = await callTool(server.client, 'start_agent_run', { task: 'read big [script:big]' });
    const { runId } = started.structuredContent as { runId: string };
    const res = await callTool(server.client, 'get_run_result', { runId, waitSeconds: 40 });
    assert.equal((res.structuredContent as { status: string }).status, 'completed');
    const toolMsg = model.requests('big')[1].messages.find((m: { role: string }) => m.role === 'tool');
    assert.ok(toolMsg.content.length <= 16_384 + 100, `observation is ${toolMsg.content.length} chars`);
    assert.match(toolMsg.content, /truncated/);
  });

  it('hundreds of bad inputs: each an error with a message; the server and a run in flight are unharmed', async () => {
    model.script('inflight', [
      { toolCalls: [{ name: 'http_request', arguments: { method: 'POST', url: `${sink.url}/inflight` } }] },
      { content: 'still fine' },
    ]);
    const started = await callTool(server.client, 'start_agent_run', { task: 'in flight [script:inflight]' });
    const { runId } = started.structuredContent as { runId: string };

    const big = 'x'.repeat(1024 * 1024);
    const odd = ['', '\u0000', '\uD800', '🙂'.repeat(1000), 'run-\n\r\t', '../../etc/passwd', "' OR 1=1 --", big];
    const values: unknown[] = [null, true, 0, -1, 1e308, -1e308, 3.5, NaN, [], {}, [1, 2], { a: 1 }, ...odd];
    const tools: Record<string, Record<string, unknown>> = {
      start_agent_run: { task: 'x' },
      get_run_status: { runId },
      approve_step: { runId, approvalId: 'apr-1-0', decision: 'approve' },
      cancel_run: { runId: 'run-does-not-exist' },
      list_runs: {},
      get_run_result: { runId: 'run-does-not-exist' },
      send_message: { runId: 'run-does-not-exist', message: 'hi' },
      get_run_history: { runId: 'run-does-not-exist' },
      get_run_view: { runId: 'run-does-not-exist' },
    };
    let calls = 0;
    for (const [tool, valid] of Object.entries(tools)) {
      const fields = [...Object.keys(valid), 'maxSteps', 'limit', 'waitSeconds', 'status', 'decision', 'cursor', 'maxTokens', 'since'];
      const cases: Array<Record<string, unknown>> = [{}, { extra: 1, ...valid }];
      for (const field of fields) for (const v of values) cases.push({ ...valid, [field]: v });
      for (const args of cases) {
        // Skip the combinations that are valid input (they are covered elsewhere).
        if (tool === 'list_runs' && Object.keys(args).length === 0) continue;
        let text = '';
        try {
          const res = await callTool(server.client, tool, args, 30_000);
          if (!res.isError) {
            // A few generated inputs are valid (e.g. a known runId); they must then answer properly.
            assert.ok(res.structuredContent, `${tool} ${JSON.stringify(args).slice(0, 200)}`);
            continue;
          }
          text = JSON.stringify(res.content);
        } catch (err) {
          text = String(err); // a protocol error is acceptable too, as long as it says something
        }
        assert.ok(text.length > 10, `${tool}: error with a message for ${JSON.stringify(args).slice(0, 200)}`);
        calls++;
      }
    }
    assert.ok(calls >= 200, `sent ${calls} bad inputs`);
    const listed = await server.client.listTools();
    assert.equal(listed.tools.length, 9, 'still serving');
    const status = await callTool(server.client, 'get_run_status', { runId });
    const s = status.structuredContent as { status: string; pendingApprovals: Array<{ approvalId: string }> };
    assert.equal(s.status, 'waiting_for_approval', 'the run in flight is unaffected');
    await callTool(server.client, 'approve_step', { runId, approvalId: s.pendingApprovals[0]!.approvalId, decision: 'approve' });
    const done = await callTool(server.client, 'get_run_result', { runId, waitSeconds: 30 });
    assert.equal((done.structuredContent as { status: string }).status, 'completed');
    assert.equal(sink.requests().filter((r) => r.path === '/inflight').length, 1);
  });

  it('Temporal unreachable: every tool answers promptly with a clear error and the server stays up', async () => {
    const closedPort = await freePort();
    const down = await spawnServer({ env: { ...baseEnv(), TEMPORAL_ADDRESS: `127.0.0.1:${closedPort}` } });
    try {
      const calls: Array<[string, Record<string, unknown>]> = [
        ['start_agent_run', { task: 'x' }],
        ['get_run_status', { runId: 'run-x' }],
        ['approve_step', { runId: 'run-x', approvalId: 'a', decision: 'approve' }],
        ['cancel_run', { runId: 'run-x' }],
        ['list_runs', {}],
        ['get_run_result', { runId: 'run-x' }],
        ['send_message', { runId: 'run-x', message: 'hi' }],
        ['get_run_history', { runId: 'run-x' }],
        ['get_run_view', { runId: 'run-x' }],
      ];
      for (const [tool, args] of calls) {
        const t0 = Date.now();
        const res = await callTool(down.client, tool, args, 30_000);
        assert.equal(res.isError, true, tool);
        assert.match(JSON.stringify(res.content), /Temporal/);
        assert.ok(Date.now() - t0 < 10_000, `${tool} answered in ${Date.now() - t0} ms`);
      }
      assert.equal((await down.client.listTools()).tools.length, 9);
      assert.equal(down.child.exitCode, null, 'the server did not exit');
    } finally {
      await down.close();
    }
  });
});
