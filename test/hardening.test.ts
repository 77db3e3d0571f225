/**
 * What a hostile model or another caller can reach, end to end through the real worker: budgets a
 * sub-agent cannot exceed, idempotency keys that refuse different parameters, runs invisible to
 * other principals, credentials redacted in everything the tools return, and workspace paths the
 * file system would refuse (hard links, over-long names) answered at once.
 */
import assert from 'node:assert/strict';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { after, before, describe, it } from 'node:test';
import { buildConfig, parseArgs } from '../src/config.js';
import { connectTemporal, type TemporalHandle } from '../src/temporal/connect.js';
import { localPrincipal, type Caller } from '../src/server/principal.js';
import { redactText, redactValue } from '../src/server/redact.js';
import { RunService } from '../src/server/runService.js';
import { UserError } from '../src/server/toolResult.js';
import { startModelServer, type ModelServer, type Step } from './support/modelServer.js';
import { startSinkServer, type SinkServer } from './support/sinkServer.js';
import { callTool, resultText, spawnServer, type SpawnedServer } from './support/mcpStdio.js';
import { runHelpers, toolMessages } from './support/runs.js';
import { startDevServer, type DevServer } from './support/temporal.js';

const tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'da-hardening-'));
const workspace = path.join(tmp, 'ws');
const outside = path.join(tmp, 'outside');
const call = (name: string, args: Record<string, unknown> = {}, usage?: { prompt_tokens: number; completion_tokens: number }): Step => ({
  toolCalls: [{ name, arguments: args }],
  ...(usage ? { usage } : {}),
});

describe('hardening: budgets, idempotency, principals, redaction, workspace paths', { timeout: 5 * 60_000 }, () => {
  let dev: DevServer;
  let model: ModelServer;
  let sink: SinkServer;
  let server: SpawnedServer;
  const runs = runHelpers(() => server.client);
  const queue = `hardening-${process.pid}`;

  before(async () => {
    fs.mkdirSync(workspace, { recursive: true });
    fs.mkdirSync(outside, { recursive: true });
    [dev, model, sink] = await Promise.all([startDevServer(), startModelServer(), startSinkServer()]);
    server = await spawnServer({
      env: {
        TEMPORAL_ADDRESS: dev.address,
        OPENAI_BASE_URL: model.baseUrl,
        OPENAI_API_KEY: 'test-key',
        DURABLE_AGENT_MODEL: 'test-model',
        DURABLE_AGENT_HOME: path.join(tmp, 'home'),
        DURABLE_AGENT_NO_SERVICE: '1',
        DURABLE_AGENT_TASK_QUEUE: queue,
        DURABLE_AGENT_WORKSPACE: workspace,
        DURABLE_AGENT_HTTP_ALLOW: '127.0.0.1',
      },
    });
  });
  after(async () => {
    await server?.close();
    await Promise.all([dev?.stop(), model?.close(), sink?.close()]);
  });

  async function history(runId: string): Promise<Array<Record<string, unknown> & { kind: string }>> {
    const res = await callTool(server.client, 'get_run_history', { runId, limit: 200 });
    assert.ok(!res.isError, resultText(res));
    return (res.structuredContent as { entries: Array<Record<string, unknown> & { kind: string }> }).entries;
  }

  it('delegate: a sub-agent gets at most the steps and tokens its parent has left, and spends them from the parent', async () => {
    // Steps: the parent has 1 turn left when it delegates, so the child (asking for 100) gets 1.
    model.script('bsteps', [call('delegate', { task: 'dig [script:bsteps-child]', maxSteps: 100 }, { prompt_tokens: 5, completion_tokens: 5 }), { content: 'parent done' }]);
    model.script('bsteps-child', [call('http_request', { method: 'GET', url: `${sink.url}/child-step` }, { prompt_tokens: 5, completion_tokens: 3 }), { content: 'child done' }]);
    // Tokens: the parent spends 15 of 20 and delegates; the child may spend the 5 left, no more.
    model.script('btokens', [call('delegate', { task: 'spend [script:btokens-child]' }, { prompt_tokens: 10, completion_tokens: 5 }), { content: 'parent done' }]);
    model.script('btokens-child', [call('http_request', { method: 'GET', url: `${sink.url}/child-tokens` }, { prompt_tokens: 6, completion_tokens: 2 }), { content: 'child done' }]);

    const [stepsRun, tokensRun] = await Promise.all([
      runs.start({ task: 'budget steps [script:bsteps]', approval: 'none', maxSteps: 2, maxTokens: 1000 }),
      runs.start({ task: 'budget tokens [script:btokens]', approval: 'none', maxSteps: 10, maxTokens: 20 }),
    ]);
    const [steps, tokens] = await Promise.all([runs.result(stepsRun), runs.result(tokensRun)]);

    const stepsChild = `${stepsRun}.sub-1-0`;
    const childSteps = await runs.status(stepsChild);
    assert.equal((childSteps as unknown as { maxSteps: number }).maxSteps, 1, 'the child got the one turn its parent had left');
    assert.equal(childSteps.status, 'failed');
    assert.match(childSteps.error ?? '', /all 1 steps/);
    assert.equal(model.requests('bsteps-child').length, 1, 'the child made one model call');
    assert.equal(steps.status, 'failed', 'the parent\'s steps are spent by its child');
    assert.match(steps.error ?? '', /all 2 steps/);
    assert.equal(steps.step, 2);
    assert.equal(steps.usage.llmCalls, 2, 'the child\'s model call counts in the parent\'s usage');
    assert.equal(steps.usage.inputTokens + steps.usage.outputTokens, 18);

    const tokensChild = await runs.status(`${tokensRun}.sub-1-0`);
    assert.equal(tokensChild.status, 'failed');
    assert.match(tokensChild.error ?? '', /maxTokens budget of 5\b/, 'the child got the 5 tokens its parent had left');
    assert.equal(tokens.status, 'failed');
    assert.match(tokens.error ?? '', /maxTokens budget of 20\b/, 'the child\'s tokens count in the parent\'s budget');
    assert.equal(tokens.usage.inputTokens + tokens.usage.outputTokens, 23);
    assert.equal(model.requests('btokens').length, 1, 'the parent made no turn beyond its budget');
  });

  it('idempotencyKey: same parameters give the same run, different parameters a clear error naming it', async () => {
    model.script('idem', [{ content: 'done' }]);
    const args = { task: 'idempotent [script:idem]', approval: 'none', idempotencyKey: `key-${process.pid}` };
    const first = await callTool(server.client, 'start_agent_run', args);
    const { runId, created } = first.structuredContent as { runId: string; created: boolean };
    assert.equal(created, true);
    const again = await callTool(server.client, 'start_agent_run', args);
    assert.deepEqual(again.structuredContent && { ...again.structuredContent, status: undefined }, { runId, created: false, status: undefined });

    const otherTask = await callTool(server.client, 'start_agent_run', { ...args, task: 'something else entirely' });
    assert.equal(otherTask.isError, true);
    assert.match(resultText(otherTask), new RegExp(`already used for run ${runId} with different parameters \\(task\\)`));
    const otherBudget = await callTool(server.client, 'start_agent_run', { ...args, maxSteps: 3 });
    assert.equal(otherBudget.isError, true);
    assert.match(resultText(otherBudget), /different parameters \(maxSteps\)/);
    await runs.result(runId);
    const closed = await callTool(server.client, 'start_agent_run', { ...args, model: 'another-model' });
    assert.equal(closed.isError, true, 'a closed run is protected too');
    assert.match(resultText(closed), /different parameters \(model\)/);
  });

  it('credentials the model sends are redacted in status, approvals and history, but still sent', async () => {
    const secrets = ['sk-secret-aaaaaaaa', 'key-secret-bbbbbbb', 'sid=secret-cccc', 'pw-secret-dddd', 'qsecret-eeee'];
    const url = `${sink.url.replace('http://', 'http://user:pw-secret-dddd@')}/redact?api_key=qsecret-eeee&page=2`;
    model.script('redact', [
      call('http_request', {
        method: 'POST',
        url,
        headers: { Authorization: 'Bearer sk-secret-aaaaaaaa', 'X-Api-Key': 'key-secret-bbbbbbb', Cookie: 'sid=secret-cccc', 'Content-Type': 'text/plain' },
        body: 'hello',
      }),
      { content: 'posted' },
    ]);
    const runId = await runs.start({ task: 'post with credentials [script:redact]' });
    const waiting = await runs.waitForApproval(runId);
    const shown = JSON.stringify(waiting);
    for (const s of secrets) assert.ok(!shown.includes(s), `status shows no ${s}: ${shown}`);
    const pending = waiting.pendingApprovals[0] as unknown as { summary: string; arguments: { headers: Record<string, string>; url: string } };
    assert.equal(pending.arguments.headers.Authorization, '[redacted]');
    assert.equal(pending.arguments.headers['Content-Type'], 'text/plain', 'other headers stay readable');
    assert.match(pending.summary, /credential attached: Authorization, X-Api-Key, Cookie/);
    assert.match(pending.arguments.url, /page=2/);

    await runs.decide(runId, waiting.pendingApprovals[0]!.approvalId, 'approve');
    const final = await runs.result(runId);
    assert.equal(final.status, 'completed');
    const hit = sink.requests().find((r) => r.path.startsWith('/redact'));
    assert.equal(hit?.headers.authorization, 'Bearer sk-secret-aaaaaaaa', 'the request itself carried the credential');
    const everything = JSON.stringify([final, await history(runId)]);
    for (const s of secrets) assert.ok(!everything.includes(s), `nothing returned shows ${s}`);

    // History says who decided: the principal and the MCP client's name, and through which channel.
    const approval = (await history(runId)).find((e) => e.kind === 'approval');
    assert.equal(approval?.by, `${localPrincipal()} via durable-agent-mcp-tests`);
    assert.equal(approval?.channel, 'approve_step');
  });

  it('workspace: hard links and over-long paths are refused at once, and nothing outside changes', async () => {
    const target = path.join(outside, 'linked.txt');
    fs.writeFileSync(target, 'outside content');
    fs.linkSync(target, path.join(workspace, 'link.txt'));
    const long = `${'x'.repeat(300)}.txt`;
    model.script('links', [
      { toolCalls: [
        { name: 'workspace_read', arguments: { path: 'link.txt' } },
        { name: 'workspace_write', arguments: { path: 'link.txt', content: 'overwritten' } },
        { name: 'workspace_read', arguments: { path: long } },
        { name: 'workspace_write', arguments: { path: long, content: 'x' } },
      ] },
      { content: 'done' },
    ]);
    const runId = await runs.start({ task: 'touch links [script:links]', approval: 'none' });
    const final = await runs.result(runId);
    assert.equal(final.status, 'completed');
    const observations = toolMessages(model.requests('links')[1]);
    assert.match(observations[0]!, /hard links/);
    assert.match(observations[1]!, /hard links/);
    assert.match(observations[2]!, /^Error: that path \(or one of its names\) is too long/);
    assert.match(observations[3]!, /^Error: that path \(or one of its names\) is too long/);
    assert.equal(fs.readFileSync(target, 'utf8'), 'outside content');
    assert.equal(fs.readFileSync(path.join(workspace, 'link.txt'), 'utf8'), 'outside content');
    // Each call is one attempt that completed: nothing was retried as if it were an I/O fault.
    const calls = (await history(runId)).filter((x) => x.kind === 'tool_call');
    assert.deepEqual(calls.map((e) => e.attempts), [1, 1, 1, 1], JSON.stringify(calls));
  });

  it('principals: another principal\'s run answers exactly like an unknown run, and is not listed', async () => {
    const config = buildConfig(parseArgs(['serve', '--no-service']), {
      TEMPORAL_ADDRESS: dev.address,
      DURABLE_AGENT_TASK_QUEUE: queue,
      DURABLE_AGENT_HOME: path.join(tmp, 'home'),
    });
    let temporal: TemporalHandle | undefined;
    const service = new RunService(config, async () => (temporal ??= await connectTemporal(config)));
    const alice: Caller = { principal: 'alice', client: 'test' };
    const bob: Caller = { principal: 'bob', client: 'test' };
    try {
      model.script('owned', [call('http_request', { method: 'POST', url: `${sink.url}/owned`, body: 'x' }), { content: 'done' }]);
      const { runId } = await service.start({ task: 'alice only [script:owned]', idempotencyKey: 'shared-key' }, alice);
      let pending: string | undefined;
      for (let i = 0; i < 100 && !pending; i++) {
        pending = (await service.status(runId, alice)).pendingApprovals[0]?.approvalId;
        if (!pending) await new Promise((r) => setTimeout(r, 200));
      }
      assert.ok(pending, 'alice sees her pending approval');

      const unknown = async (what: string, attempt: () => Promise<unknown>, id = runId) => {
        await assert.rejects(attempt, (err: unknown) => {
          assert.ok(err instanceof UserError, `${what}: ${String(err)}`);
          assert.equal(err.message, `No run with runId "${id}". Use list_runs to find runs, or start_agent_run to start one.`, what);
          return true;
        });
      };
      await unknown('status', () => service.status(runId, bob));
      await unknown('result', () => service.result(runId, 1, bob));
      await unknown('approve', () => service.approve(runId, pending, 'approve', undefined, bob));
      await unknown('cancel', () => service.cancel(runId, bob));
      await unknown('send_message', () => service.sendMessage(runId, 'hi', bob));
      await unknown('history', () => service.history(runId, undefined, 10, bob));
      await unknown('the local principal', () => service.status(runId, { principal: localPrincipal(), client: 'test' }));
      const listed = await service.list({ limit: 100 }, bob);
      assert.ok(!listed.runs.some((r) => r.runId === runId), 'bob does not see alice\'s run');
      assert.ok((await service.list({ limit: 100 }, alice)).runs.some((r) => r.runId === runId), 'alice does');

      // Keys are scoped per principal: bob's same key is a different run.
      const bobs = await service.start({ task: 'bob [script:idem]', idempotencyKey: 'shared-key', approval: 'none' }, bob);
      assert.notEqual(bobs.runId, runId);
      assert.equal(bobs.created, true);

      assert.equal((await service.cancel(runId, alice)).status, 'cancelled');
      assert.equal(sink.requests().filter((r) => r.path === '/owned').length, 0, 'nothing bob did reached the outside');
    } finally {
      await temporal?.close();
    }
  });
});

describe('redaction of what tools return (unit)', () => {
  it('redacts credentials in JSON, JSON inside JSON strings, URLs, auth schemes and header lines, and nothing else', () => {
    const cases: Array<[string, string]> = [
      ['{"Authorization":"Bearer abcdefgh","page":2}', '{"Authorization":"[redacted]","page":2}'],
      ['{"body":"{\\"api_key\\":\\"k-123\\",\\"q\\":\\"x\\"}"}', '{"body":"{\\"api_key\\":\\"[redacted]\\",\\"q\\":\\"x\\"}"}'],
      ['GET https://bob:hunter2@example.com/a?token=abc&page=2', 'GET https://bob:[redacted]@example.com/a?token=[redacted]&page=2'],
      ['sent Bearer eyJhbGciOi.abc.def to it', 'sent Bearer [redacted] to it'],
      ['Cookie: sid=42\nAccept: */*', 'Cookie: [redacted]\nAccept: */*'],
      ['{"task":"plain words","maxSteps":3}', '{"task":"plain words","maxSteps":3}'],
    ];
    for (const [input, expected] of cases) assert.equal(redactText(input), expected, input);
    assert.deepEqual(redactValue({ headers: { 'X-Api-Key': 'k', Accept: 'a' }, nested: [{ password: 'p', n: 1 }] }), {
      headers: { 'X-Api-Key': '[redacted]', Accept: 'a' },
      nested: [{ password: '[redacted]', n: 1 }],
    });
  });
});
