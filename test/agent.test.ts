/**
 * The agent loop's budgets and failure semantics, end to end over stdio: retries that honour
 * Retry-After, cancellation of an in-flight model call, approval and run timeouts, refused
 * addresses, and progress notifications while waiting for a result.
 */
import assert from 'node:assert/strict';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { after, before, describe, it } from 'node:test';
import { startModelServer, type ModelServer } from './support/modelServer.js';
import { startSinkServer, type SinkServer } from './support/sinkServer.js';
import { startDevServer, type DevServer } from './support/temporal.js';
import { callTool, spawnServer, type SpawnedServer } from './support/mcpStdio.js';

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

interface Status {
  runId: string;
  status: string;
  result?: string;
  error?: string;
  pendingApprovals: Array<{ approvalId: string }>;
  usage: { llmCalls: number; toolCalls: number };
}

describe('agent loop semantics (e2e)', { timeout: 10 * 60_000 }, () => {
  let dev: DevServer;
  let model: ModelServer;
  let sink: SinkServer;
  let server: SpawnedServer;

  before(async () => {
    [dev, model, sink] = await Promise.all([startDevServer(), startModelServer(), startSinkServer()]);
    server = await spawnServer({
      env: {
        TEMPORAL_ADDRESS: dev.address,
        OPENAI_BASE_URL: model.baseUrl,
        OPENAI_API_KEY: 'test-key',
        DURABLE_AGENT_MODEL: 'test-model',
        DURABLE_AGENT_HOME: fs.mkdtempSync(path.join(os.tmpdir(), 'da-home-')),
        DURABLE_AGENT_NO_SERVICE: '1', // in-process mode; test/service.test.ts covers the background service
        DURABLE_AGENT_TASK_QUEUE: `agent-${process.pid}`,
        DURABLE_AGENT_HTTP_ALLOW: '127.0.0.1', // the sink is on loopback, which http_request refuses by default
      },
    });
  });
  after(async () => {
    await server?.close();
    await Promise.all([dev?.stop(), model?.close(), sink?.close()]);
  });

  async function start(args: Record<string, unknown>): Promise<string> {
    const res = await callTool(server.client, 'start_agent_run', args);
    assert.ok(!res.isError, JSON.stringify(res.content));
    return (res.structuredContent as { runId: string }).runId;
  }
  async function status(runId: string): Promise<Status> {
    const res = await callTool(server.client, 'get_run_status', { runId });
    assert.ok(!res.isError, JSON.stringify(res.content));
    return res.structuredContent as unknown as Status;
  }
  async function until(runId: string, pred: (s: Status) => boolean, ms = 30_000): Promise<Status> {
    const deadline = Date.now() + ms;
    let last = await status(runId);
    while (!pred(last) && Date.now() < deadline) {
      await sleep(300);
      last = await status(runId);
    }
    assert.ok(pred(last), `condition not met; last status ${JSON.stringify(last)}`);
    return last;
  }
  async function result(runId: string): Promise<Status> {
    const res = await callTool(server.client, 'get_run_result', { runId, waitSeconds: 45 });
    return res.structuredContent as unknown as Status;
  }

  it('a 429 with Retry-After is retried after about that long, then the run completes', async () => {
    const times: number[] = [];
    model.script('r429', [
      () => {
        times.push(Date.now());
        return { status: 429, headers: { 'retry-after': '2' }, body: { error: { message: 'slow down' } } };
      },
      () => {
        times.push(Date.now());
        return { content: 'after the rate limit' };
      },
    ]);
    const runId = await start({ task: 'rate limited [script:r429]' });
    const final = await result(runId);
    assert.equal(final.status, 'completed');
    assert.equal(final.result, 'after the rate limit');
    assert.equal(times.length, 2, 'one retry, no storm');
    assert.ok(times[1]! - times[0]! >= 1_800, `waited ${times[1]! - times[0]!} ms, expected about 2000`);
  });

  it('a 500 from the model is retried (bounded) and the run still completes', async () => {
    model.script('r500', [{ status: 500, body: { error: { message: 'boom' } } }, { content: 'recovered' }]);
    const final = await result(await start({ task: 'flaky [script:r500]' }));
    assert.equal(final.status, 'completed');
    assert.equal(model.requests('r500').length, 2);
  });

  // These wait out retry backoffs (up to 15 s each); they are independent, so they wait together.
  describe('bounded retries', { concurrency: true }, () => {
    it('a model answering 5xx on every attempt: bounded retries, then failed naming the cause', async () => {
      model.script('r500x', [{ status: 503, body: { error: { message: 'overloaded' } } }]);
      const final = await result(await start({ task: 'always down [script:r500x]' }));
      assert.equal(final.status, 'failed');
      assert.match(final.error ?? '', /503/);
      assert.equal(model.requests('r500x').length, 5, 'five attempts, then stop');
    });

    it('an unreachable model endpoint: bounded retries, then a clear failure', async () => {
      const { freePort } = await import('./support/temporal.js');
      const port = await freePort();
      const unreachable = await spawnServer({
        env: {
          TEMPORAL_ADDRESS: dev.address,
          OPENAI_BASE_URL: `http://127.0.0.1:${port}/v1`,
          OPENAI_API_KEY: 'test-key',
          DURABLE_AGENT_HOME: fs.mkdtempSync(path.join(os.tmpdir(), 'da-home-')),
          DURABLE_AGENT_NO_SERVICE: '1',
          DURABLE_AGENT_TASK_QUEUE: `unreachable-${process.pid}`,
        },
      });
      try {
        const res = await callTool(unreachable.client, 'start_agent_run', { task: 'nobody home' });
        const { runId } = res.structuredContent as { runId: string };
        const done = await callTool(unreachable.client, 'get_run_result', { runId, waitSeconds: 45 }, 60_000);
        const final = done.structuredContent as unknown as Status;
        assert.equal(final.status, 'failed');
        assert.match(final.error ?? '', /could not reach the model endpoint/);
      } finally {
        await unreachable.close();
      }
    });

    it('a tool answering 503 after its retries becomes an observation, not a crash', async () => {
      model.script('t503', [
        { toolCalls: [{ name: 'http_request', arguments: { method: 'GET', url: `${sink.url}/fail503` } }] },
        { content: 'the upstream is down' },
      ]);
      const final = await result(await start({ task: 'poke [script:t503]' }));
      assert.equal(final.status, 'completed');
      assert.equal(sink.requests().filter((r) => r.path === '/fail503').length, 4, 'four bounded attempts');
      const toolMsg = model.requests('t503')[1].messages.find((m: { role: string }) => m.role === 'tool');
      assert.match(toolMsg.content, /503/);
    });
  });

  it('cancel reaches an in-flight model call', async () => {
    model.script('slow', [{ delayMs: 60_000, then: { content: 'too late' } }]);
    const runId = await start({ task: 'slow thinking [script:slow]' });
    const deadline = Date.now() + 10_000;
    while (model.requests('slow').length === 0 && Date.now() < deadline) await sleep(100);
    assert.equal(model.requests('slow').length, 1, 'the model call is in flight');
    const t0 = Date.now();
    const res = await callTool(server.client, 'cancel_run', { runId, reason: 'changed my mind' });
    assert.equal((res.structuredContent as { status: string }).status, 'cancelled');
    assert.ok(Date.now() - t0 < 10_000);
    assert.equal((await status(runId)).status, 'cancelled');
  });

  it('no decision before the approval timeout: the model is told the call was not executed', async () => {
    model.script('aprto', [
      { toolCalls: [{ name: 'http_request', arguments: { method: 'DELETE', url: `${sink.url}/thing` } }] },
      { content: 'gave up on the delete' },
    ]);
    const runId = await start({ task: 'delete it [script:aprto]', approvalTimeoutSeconds: 2 });
    const waiting = await until(runId, (s) => s.status === 'waiting_for_approval');
    assert.equal(waiting.pendingApprovals.length, 1);
    const final = await result(runId);
    assert.equal(final.status, 'completed');
    assert.equal(sink.requests().filter((r) => r.method === 'DELETE').length, 0);
    const second = model.requests('aprto')[1];
    const toolMsg = second.messages.find((m: { role: string }) => m.role === 'tool');
    assert.match(toolMsg.content, /not executed/i);
  });

  it('timeoutSeconds ends the run timed_out', async () => {
    model.script('tmo', [{ toolCalls: [{ name: 'http_request', arguments: { method: 'POST', url: `${sink.url}/t` } }] }]);
    const runId = await start({ task: 'wait forever [script:tmo]', timeoutSeconds: 3 });
    const final = await until(runId, (s) => s.status === 'timed_out', 30_000);
    assert.match(final.error ?? '', /time budget/);
    const again = await callTool(server.client, 'cancel_run', { runId });
    assert.ok(!again.isError);
    assert.equal((again.structuredContent as { status: string }).status, 'timed_out');
  });

  it('cloud-metadata addresses are refused and reported to the model', async () => {
    model.script('imds', [
      { toolCalls: [{ name: 'http_request', arguments: { method: 'GET', url: 'http://169.254.169.254/latest/meta-data/' } }] },
      { content: 'could not read metadata' },
    ]);
    const final = await result(await start({ task: 'read metadata [script:imds]' }));
    assert.equal(final.status, 'completed');
    const toolMsg = model.requests('imds')[1].messages.find((m: { role: string }) => m.role === 'tool');
    assert.match(toolMsg.content, /refused/);
  });

  it('get_run_result sends progress notifications while it waits', async () => {
    model.script('prog', [{ delayMs: 5_000, then: { content: 'slowly done' } }]);
    const runId = await start({ task: 'take a while [script:prog]' });
    const progress: number[] = [];
    const res = await server.client.request(
      { method: 'tools/call', params: { name: 'get_run_result', arguments: { runId, waitSeconds: 30 } } },
      { onprogress: (p) => progress.push(p.progress), timeout: 60_000 },
    );
    assert.equal((res.structuredContent as { status: string }).status, 'completed');
    assert.ok(progress.length >= 1, 'at least one progress notification');
  });

  it('get_run_result answers when the run closes, not when its wait ends; closed runs read back the same', async () => {
    const waitFor = async (runId: string): Promise<{ view: Status; waitedMs: number }> => {
      const t0 = Date.now();
      const res = await callTool(server.client, 'get_run_result', { runId, waitSeconds: 50 }, 70_000);
      assert.ok(!res.isError, JSON.stringify(res.content));
      return { view: res.structuredContent as unknown as Status, waitedMs: Date.now() - t0 };
    };
    model.script('prompt-ok', [{ delayMs: 1_000, then: { content: 'closed soon' } }]);
    model.script('prompt-401', [{ delayMs: 1_000, then: { status: 401, body: { error: { message: 'bad key' } } } }]);
    const completed = await start({ task: 'quick [script:prompt-ok]' });
    const failed = await start({ task: 'quick failure [script:prompt-401]' });

    const ok = await waitFor(completed);
    assert.equal(ok.view.status, 'completed');
    assert.equal(ok.view.result, 'closed soon');
    const bad = await waitFor(failed);
    assert.equal(bad.view.status, 'failed');
    assert.match(bad.view.error ?? '', /401/);
    // A 50 s wait that ends with the run, seconds after it started (the bound only separates the two).
    for (const { waitedMs } of [ok, bad]) assert.ok(waitedMs < 20_000, `get_run_result waited ${waitedMs} ms for a run of about 1 s`);

    // Later reads of a closed run (get_run_status, get_run_result) answer exactly as the first did.
    assert.deepEqual(await status(completed), ok.view);
    assert.deepEqual(await status(failed), bad.view);
    assert.deepEqual((await waitFor(completed)).view, ok.view);

    // An unknown runId is an error at once, not after the wait.
    const t0 = Date.now();
    const unknown = await callTool(server.client, 'get_run_result', { runId: 'run-that-never-was', waitSeconds: 50 }, 70_000);
    assert.equal(unknown.isError, true);
    assert.match(JSON.stringify(unknown.content), /No run with runId/);
    assert.ok(Date.now() - t0 < 20_000, 'the unknown run was reported without waiting out the 50 s');
  });

  it('approval "all" gates a GET; approval "none" lets a POST through without waiting', async () => {
    model.script('gall', [
      { toolCalls: [{ name: 'http_request', arguments: { method: 'GET', url: `${sink.url}/gated-get` } }] },
      { content: 'read it' },
    ]);
    const gated = await start({ task: 'read [script:gall]', approval: 'all' });
    const waiting = await until(gated, (s) => s.status === 'waiting_for_approval');
    assert.equal(sink.requests().filter((r) => r.path === '/gated-get').length, 0, 'nothing sent before approval');
    const approvalId = waiting.pendingApprovals[0]!.approvalId;
    const decided = await callTool(server.client, 'approve_step', { runId: gated, approvalId, decision: 'approve' });
    assert.ok(!decided.isError);
    assert.equal((await result(gated)).status, 'completed');
    assert.equal(sink.requests().filter((r) => r.path === '/gated-get').length, 1);

    model.script('gnone', [
      { toolCalls: [{ name: 'http_request', arguments: { method: 'POST', url: `${sink.url}/ungated-post`, body: '{}' } }] },
      { content: 'posted' },
    ]);
    const free = await result(await start({ task: 'post [script:gnone]', approval: 'none' }));
    assert.equal(free.status, 'completed');
    assert.equal(sink.requests().filter((r) => r.path === '/ungated-post').length, 1);
  });

  it('unknown tool names in start_agent_run are refused with the list of tools', async () => {
    const res = await callTool(server.client, 'start_agent_run', { task: 'x', tools: ['rm_rf'] });
    assert.equal(res.isError, true);
    assert.match(JSON.stringify(res.content), /http_request/);
  });
});
