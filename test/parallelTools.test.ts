/**
 * Several tool calls in one model turn run at once (up to --max-parallel-tools), over the built CLI
 * on stdio, a real Temporal dev server, the scripted model server and the sink. The sink counts how
 * many calls were open at the same moment, so "at once" is checked without timing anything.
 */
import assert from 'node:assert/strict';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { after, before, describe, it } from 'node:test';
import { Client as TemporalClient, Connection } from '@temporalio/client';
import { historyToJSON } from '@temporalio/common/lib/proto-utils.js';
import { startModelServer, type ModelServer, type ToolCallSpec } from './support/modelServer.js';
import { startSinkServer, type SinkServer } from './support/sinkServer.js';
import { startDevServer, type DevServer } from './support/temporal.js';
import { callTool, spawnServer, type SpawnedServer } from './support/mcpStdio.js';
import { runHelpers, toolMessages } from './support/runs.js';
import { waitFor } from './support/wait.js';

describe('parallel tool calls in one turn (e2e)', { timeout: 10 * 60_000 }, () => {
  let dev: DevServer;
  let model: ModelServer;
  let sink: SinkServer;
  let server: SpawnedServer;
  /** A second server whose runs execute at most two calls at once. */
  let limited: SpawnedServer;
  let temporal: { connection: Connection; client: TemporalClient };

  const env = (queue: string, extra: Record<string, string> = {}): Record<string, string> => ({
    TEMPORAL_ADDRESS: dev.address,
    OPENAI_BASE_URL: model.baseUrl,
    OPENAI_API_KEY: 'test-key',
    DURABLE_AGENT_MODEL: 'test-model',
    DURABLE_AGENT_HOME: fs.mkdtempSync(path.join(os.tmpdir(), 'da-par-')),
    DURABLE_AGENT_NO_SERVICE: '1',
    DURABLE_AGENT_TASK_QUEUE: `${queue}-${process.pid}`,
    DURABLE_AGENT_HTTP_ALLOW: '127.0.0.1', // the sink is on loopback, which http_request refuses by default
    ...extra,
  });

  before(async () => {
    [dev, model, sink] = await Promise.all([startDevServer(), startModelServer(), startSinkServer()]);
    [server, limited] = await Promise.all([
      spawnServer({ env: env('par') }),
      spawnServer({ env: env('par-limited', { DURABLE_AGENT_MAX_PARALLEL_TOOLS: '2' }) }),
    ]);
    const connection = await Connection.connect({ address: dev.address });
    temporal = { connection, client: new TemporalClient({ connection }) };
  });
  after(async () => {
    await temporal?.connection.close();
    await Promise.all([server?.close(), limited?.close()]);
    await Promise.all([dev?.stop(), model?.close(), sink?.close()]);
  });

  const { start, status, result, waitForApproval, decide } = runHelpers(() => server.client);
  const get = (url: string): ToolCallSpec => ({ name: 'http_request', arguments: { method: 'GET', url } });
  const post = (url: string): ToolCallSpec => ({ name: 'http_request', arguments: { method: 'POST', url, body: 'x' } });
  /** The tool messages of the model's second request: what it read back after the turn. */
  const observationsOf = (script: string): string[] => {
    const second = model.requests(script)[1] as Parameters<typeof toolMessages>[0] | undefined;
    assert.ok(second, 'the model was asked a second time');
    return toolMessages(second);
  };
  const eventTypes = async (runId: string): Promise<string[]> => {
    const history = await temporal.client.workflow.getHandle(runId).fetchHistory();
    return (JSON.parse(historyToJSON(history)) as { events: Array<{ eventType: string }> }).events.map((e) => e.eventType);
  };

  it('the calls of one turn are open at once; observations come back in the order the model asked', async () => {
    model.script('fan', [
      {
        toolCalls: [
          get(`${sink.url}/fan/a?delayMs=1500`),
          { name: 'no_such_tool', arguments: {} },
          get(`${sink.url}/fan/b?delayMs=200`),
          get('http://169.254.169.254/latest/meta-data/'),
          get(`${sink.url}/fan/c?delayMs=800`),
        ],
      },
      { content: 'fanned out' },
    ]);
    const runId = await start({ task: 'fan [script:fan]', approval: 'none' });
    const final = await result(runId);
    assert.equal(final.status, 'completed', JSON.stringify(final));
    assert.equal(sink.maxInFlight('/fan/'), 3, 'the three sink calls were open at the same time');
    const observations = observationsOf('fan');
    assert.equal(observations.length, 5);
    // The slowest call answered last but is read first: the model's order, not the finishing order.
    assert.match(observations[0]!, /"status":200/);
    assert.match(observations[1]!, /unknown tool "no_such_tool"/);
    assert.match(observations[2]!, /"status":200/);
    assert.match(observations[3]!, /refused|not allowed|blocked/i, 'a refused call is its own observation');
    assert.match(observations[4]!, /"status":200/);
    const toolIds = (model.requests('fan')[1] as { messages: Array<{ role: string; tool_call_id?: string }> }).messages
      .filter((m) => m.role === 'tool')
      .map((m) => m.tool_call_id);
    const asked = (model.requests('fan')[1] as { messages: Array<{ role: string; tool_calls?: Array<{ id: string }> }> }).messages
      .find((m) => m.role === 'assistant')!
      .tool_calls!.map((c) => c.id);
    assert.deepEqual(toolIds, asked, 'each observation answers its own call, in order');
    // Each call keeps its idempotency key, <runId>/<step>-<index>.
    const keys = sink.requests().filter((r) => r.path.startsWith('/fan/')).map((r) => `${r.path.slice(0, 6)} ${String(r.headers['idempotency-key'])}`);
    assert.deepEqual(keys.sort(), [`/fan/a ${runId}/1-0`, `/fan/b ${runId}/1-2`, `/fan/c ${runId}/1-4`]);
    assert.equal(final.usage.toolCalls, 4, 'the unknown tool was not executed; the refused address was tried');
  });

  it('gated calls of a turn are asked together, decided each on its own; ungated calls run meanwhile', async () => {
    model.script('gates', [
      { toolCalls: [post(`${sink.url}/gates/write-1`), get(`${sink.url}/gates/read`), post(`${sink.url}/gates/write-2`)] },
      { content: 'one written, one refused' },
    ]);
    const runId = await start({ task: 'gates [script:gates]', approval: 'writes' });
    let waiting = await waitForApproval(runId);
    await waitFor('both approvals to be pending', async () => {
      waiting = await status(runId);
      return waiting.pendingApprovals.length === 2;
    });
    assert.deepEqual(
      waiting.pendingApprovals.map((p) => p.approvalId).sort(),
      ['apr-1-0', 'apr-1-2'],
      'every pending approval of the turn shows at once',
    );
    await waitFor('the ungated read to run while the writes wait', () => sink.requests().some((r) => r.path === '/gates/read'));
    await decide(runId, 'apr-1-2', 'reject');
    const afterOne = await status(runId);
    assert.equal(afterOne.status, 'waiting_for_approval', 'still waiting: one approval is left');
    assert.deepEqual(afterOne.pendingApprovals.map((p) => p.approvalId), ['apr-1-0']);
    await decide(runId, 'apr-1-0', 'approve');
    const final = await result(runId);
    assert.equal(final.status, 'completed', JSON.stringify(final));
    assert.equal(sink.requests().filter((r) => r.path === '/gates/write-1').length, 1);
    assert.equal(sink.requests().filter((r) => r.path === '/gates/write-2').length, 0, 'the rejected write never ran');
    const observations = observationsOf('gates');
    assert.match(observations[0]!, /"status":200/);
    assert.match(observations[2]!, /a human rejected this call/);
  });

  it('--max-parallel-tools bounds how many calls of a turn are open at once', async () => {
    const { start: startLimited, result: resultLimited } = runHelpers(() => limited.client);
    model.script('limit', [
      { toolCalls: [1, 2, 3, 4, 5].map((i) => get(`${sink.url}/limit/${i}?delayMs=600`)) },
      { content: 'five reads, two at a time' },
    ]);
    const runId = await startLimited({ task: 'limit [script:limit]', approval: 'none' });
    const final = await resultLimited(runId);
    assert.equal(final.status, 'completed', JSON.stringify(final));
    assert.equal(sink.requests().filter((r) => r.path.startsWith('/limit/')).length, 5);
    assert.equal(sink.maxInFlight('/limit/'), 2);
  });

  it('cancel_run cancels every call of the turn still in flight, reads and writes', async () => {
    const slow = (i: number) => `${sink.url}/cancel-fan/${i}?delayMs=60000`;
    model.script('cancel-fan', [{ toolCalls: [get(slow(1)), post(slow(2)), get(slow(3)), post(slow(4))] }, { content: 'never' }]);
    const runId = await start({ task: 'cancel-fan [script:cancel-fan]', approval: 'none' });
    await waitFor('all four calls to be open', () => sink.maxInFlight('/cancel-fan/') === 4);
    const cancelled = await callTool(server.client, 'cancel_run', { runId });
    assert.ok(!cancelled.isError, JSON.stringify(cancelled.content));
    const final = await result(runId);
    assert.equal(final.status, 'cancelled');
    // Every call hangs up on the sink: the reads (local activities) and the writes (regular ones).
    await waitFor('all four calls to be abandoned', () => sink.abandoned('/cancel-fan/') === 4);
    const events = await eventTypes(runId);
    assert.equal(events.filter((t) => t === 'EVENT_TYPE_ACTIVITY_TASK_CANCEL_REQUESTED').length, 2, 'both writes were asked to cancel');
    assert.equal(model.requests('cancel-fan').length, 1, 'no turn after the cancelled one');
  });
});
