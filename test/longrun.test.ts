/**
 * A 300-step run completes through continue-as-new: the runId stays, step and usage keep counting
 * across executions, and every execution's history stays near Temporal's suggested limit (lowered
 * to 40 events on this dev server).
 */
import assert from 'node:assert/strict';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { after, before, describe, it } from 'node:test';
import { Client, Connection } from '@temporalio/client';
import { RUN_OWNER, RUN_STARTED_AT } from '../src/shared/searchAttributes.js';
import { startModelServer, type ModelServer } from './support/modelServer.js';
import { startSinkServer, type SinkServer } from './support/sinkServer.js';
import { callTool, spawnServer, type SpawnedServer } from './support/mcpStdio.js';
import { startDevServer, type DevServer } from './support/temporal.js';

const STEPS = 300;
const SUGGEST_AT = 120;

describe('long runs', { timeout: 10 * 60_000 }, () => {
  let dev: DevServer;
  let model: ModelServer;
  let sink: SinkServer;
  let server: SpawnedServer;

  before(async () => {
    [dev, model, sink] = await Promise.all([
      startDevServer({ extraArgs: ['--dynamic-config-value', `limit.historyCount.suggestContinueAsNew=${SUGGEST_AT}`] }),
      startModelServer(),
      startSinkServer(),
    ]);
    server = await spawnServer({
      env: {
        TEMPORAL_ADDRESS: dev.address,
        OPENAI_BASE_URL: model.baseUrl,
        OPENAI_API_KEY: 'test-key',
        DURABLE_AGENT_MODEL: 'test-model',
        DURABLE_AGENT_HOME: fs.mkdtempSync(path.join(os.tmpdir(), 'da-home-')),
        DURABLE_AGENT_NO_SERVICE: '1',
        DURABLE_AGENT_TASK_QUEUE: `long-${process.pid}`,
        DURABLE_AGENT_HTTP_ALLOW: '127.0.0.1', // the sink is on loopback, which http_request refuses by default
      },
    });
  });
  after(async () => {
    await server?.close();
    await Promise.all([dev?.stop(), model?.close(), sink?.close()]);
  });

  it(`a ${STEPS}-step run completes through continue-as-new with one runId`, async () => {
    let served = 0;
    model.script('long', [
      () => {
        served++;
        return served < STEPS
          ? { toolCalls: [{ name: 'http_request', arguments: { method: 'GET', url: `${sink.url}/long/${served}` } }] }
          : { content: `finished after ${served} turns` };
      },
    ]);
    const started = await callTool(server.client, 'start_agent_run', { task: 'march on [script:long]', maxSteps: STEPS, approval: 'none' });
    const { runId } = started.structuredContent as { runId: string };
    let final: { status: string; result?: string; step: number; usage: { llmCalls: number; toolCalls: number } } | undefined;
    const deadline = Date.now() + 8 * 60_000;
    while (Date.now() < deadline) {
      const res = await callTool(server.client, 'get_run_result', { runId, waitSeconds: 30 }, 60_000);
      final = res.structuredContent as typeof final;
      if (final && final.status !== 'running') break;
    }
    assert.ok(final);
    assert.equal(final.status, 'completed', JSON.stringify(final));
    assert.equal(final.result, `finished after ${STEPS} turns`);
    assert.equal(final.step, STEPS);
    assert.equal(final.usage.llmCalls, STEPS);
    assert.equal(final.usage.toolCalls, STEPS - 1);
    assert.equal(sink.requests().filter((r) => r.path.startsWith('/long/')).length, STEPS - 1, 'each tool call once');

    const connection = await Connection.connect({ address: dev.address });
    try {
      const client = new Client({ connection });
      const executions = [];
      for await (const info of client.workflow.list({ query: `WorkflowId = '${runId}'` })) executions.push(info);
      assert.ok(executions.length > 5, `continued as new (${executions.length} executions)`);
      for (const e of executions) {
        assert.ok((e.historyLength ?? 0) < SUGGEST_AT * 2, `execution ${e.runId} has ${e.historyLength} events`);
        // list_runs' search attributes carry across continue-as-new, so the run stays listed by them.
        for (const key of [RUN_OWNER, RUN_STARTED_AT]) {
          assert.deepEqual(e.typedSearchAttributes.get(key), executions[0]!.typedSearchAttributes.get(key), `${key.name} of ${e.runId}`);
          assert.ok(e.typedSearchAttributes.get(key) !== undefined, `${key.name} of ${e.runId}`);
        }
      }
    } finally {
      await connection.close();
    }

    // get_run_history reads across every execution: all the turns, each continue-as-new, one close.
    const kinds: string[] = [];
    let cursor: string | undefined;
    do {
      const res = await callTool(server.client, 'get_run_history', { runId, limit: 200, ...(cursor ? { cursor } : {}) }, 60_000);
      assert.ok(!res.isError, JSON.stringify(res.content));
      const page = res.structuredContent as { entries: Array<{ kind: string }>; nextCursor?: string };
      kinds.push(...page.entries.map((e) => e.kind));
      cursor = page.nextCursor;
    } while (cursor);
    assert.equal(kinds.filter((k) => k === 'llm_turn').length, STEPS);
    assert.equal(kinds.filter((k) => k === 'tool_call').length, STEPS - 1);
    assert.ok(kinds.filter((k) => k === 'continued_as_new').length > 5);
    assert.deepEqual(kinds.filter((k) => k === 'closed'), ['closed']);
  });
});
