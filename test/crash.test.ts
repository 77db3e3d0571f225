/**
 * Crash matrix: SIGKILL real processes (worker, MCP server, dev server) mid-run, restart them, and
 * count what reached the outside world. Runs use `serve --no-worker` plus separate `worker`
 * processes so each part can be killed on its own.
 */
import assert from 'node:assert/strict';
import { execFileSync, spawn, type ChildProcess } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { after, before, describe, it } from 'node:test';
import { Client as TemporalClient, Connection } from '@temporalio/client';
import { historyToJSON } from '@temporalio/common/lib/proto-utils.js';
import { startModelServer, type ModelServer } from './support/modelServer.js';
import { startSinkServer, type SinkServer } from './support/sinkServer.js';
import { callTool, cliPath, spawnServer, type SpawnedServer } from './support/mcpStdio.js';
import { runHelpers, turns as countTurns, type RunView } from './support/runs.js';
import { startDevServer, type DevServer } from './support/temporal.js';
import { alive, sleep, waitFor } from './support/wait.js';

describe('crash matrix (SIGKILL real processes)', { timeout: 15 * 60_000 }, () => {
  let dev: DevServer;
  let model: ModelServer;
  let sink: SinkServer;
  let server: SpawnedServer;
  const workers = new Set<ChildProcess>();
  const home = fs.mkdtempSync(path.join(os.tmpdir(), 'da-crash-'));
  const env = (): Record<string, string | undefined> => ({
    TEMPORAL_ADDRESS: dev.address,
    OPENAI_BASE_URL: model.baseUrl,
    OPENAI_API_KEY: 'test-key',
    DURABLE_AGENT_MODEL: 'test-model',
    DURABLE_AGENT_HOME: home,
    DURABLE_AGENT_TASK_QUEUE: `crash-${process.pid}`,
    DURABLE_AGENT_HTTP_ALLOW: '127.0.0.1', // the sink is on loopback, which http_request refuses by default
  });

  /** Each worker's stderr, so a test can see which worker ran what (at debug level). */
  const workerLogs = new Map<ChildProcess, string>();
  function startWorker(extra: Record<string, string> = {}): ChildProcess {
    const e: Record<string, string> = {};
    for (const [k, v] of Object.entries({ ...process.env, ...env(), ...extra })) if (v !== undefined) e[k] = v;
    const child = spawn(process.execPath, [cliPath, 'worker'], { env: e, stdio: ['ignore', 'ignore', 'pipe'] });
    workerLogs.set(child, '');
    child.stderr?.on('data', (c: Buffer) => workerLogs.set(child, (workerLogs.get(child) ?? '') + c.toString()));
    workers.add(child);
    child.once('exit', () => workers.delete(child));
    return child;
  }
  async function kill(child: ChildProcess): Promise<void> {
    const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()));
    child.kill('SIGKILL');
    await exited;
  }
  const { start, status, result } = runHelpers(() => server.client);
  const turns = (script: string, turn: number) => countTurns(model, script, turn);
  /** The pid holding a TCP connection to `port`, via ss(8): which worker runs the activity. */
  function pidConnectedTo(port: number): number | undefined {
    const out = execFileSync('ss', ['-tnpH', 'state', 'established', `dst 127.0.0.1:${port}`], { encoding: 'utf8' });
    const m = /pid=(\d+)/.exec(out);
    return m ? Number(m[1]) : undefined;
  }

  before(async () => {
    [dev, model, sink] = await Promise.all([startDevServer(), startModelServer(), startSinkServer()]);
    server = await spawnServer({ env: env(), args: ['serve', '--no-worker'] });
  });
  after(async () => {
    for (const w of workers) w.kill('SIGKILL');
    await server?.close();
    await Promise.all([dev?.stop(), model?.close(), sink?.close()]);
  });

  it('1. worker killed during a slow model call: retried after restart, earlier calls not resent', async () => {
    model.script('c1', [
      { toolCalls: [{ name: 'http_request', arguments: { method: 'GET', url: `${sink.url}/c1` } }] },
      { delayMs: 30_000, then: { content: 'never' } },
      { content: 'done after the crash' },
    ]);
    const worker = startWorker();
    const runId = await start({ task: 'c1 [script:c1]' });
    await waitFor('the slow second model call', () => model.requests('c1').length === 2);
    await kill(worker);
    startWorker();
    const final = await result(runId);
    assert.equal(final.status, 'completed');
    assert.equal(final.result, 'done after the crash');
    assert.equal(turns('c1', 0), 1, 'the first model call (completed before the crash) was not resent');
    assert.equal(sink.requests().filter((r) => r.path === '/c1').length, 1);
  });

  it('2. worker killed after the write reached the sink, before it reported back: one effect, same key', async () => {
    model.script('c2', [
      { toolCalls: [{ name: 'http_request', arguments: { method: 'POST', url: `${sink.url}/slow-c2`, body: 'pay' } }] },
      { content: 'paid once' },
    ]);
    for (const w of [...workers]) await kill(w);
    const worker = startWorker();
    const runId = await start({ task: 'c2 [script:c2]', approval: 'none' });
    await waitFor('the write to reach the sink', () => sink.requests().some((r) => r.path === '/slow-c2'));
    await kill(worker);
    startWorker();
    const final = await result(runId);
    assert.equal(final.status, 'completed');
    const writes = sink.requests().filter((r) => r.path === '/slow-c2');
    assert.ok(writes.length >= 1);
    const keys = new Set(writes.map((r) => r.headers['idempotency-key']));
    assert.equal(keys.size, 1, `a retried delivery carries the same Idempotency-Key (raw deliveries: ${writes.length})`);
    assert.equal(turns('c2', 0), 1);
  });

  it('3. worker killed while the run waits for approval; approval sent with no worker is kept', async () => {
    model.script('c3', [
      { toolCalls: [{ name: 'http_request', arguments: { method: 'PUT', url: `${sink.url}/c3`, body: 'v' } }] },
      { content: 'approved and written' },
    ]);
    for (const w of [...workers]) await kill(w);
    const worker = startWorker();
    const runId = await start({ task: 'c3 [script:c3]' });
    let waiting: RunView | undefined;
    await waitFor('waiting for approval', async () => {
      waiting = await status(runId);
      return waiting.status === 'waiting_for_approval';
    });
    await kill(worker);
    // Status with no worker: what Temporal knows, the step from the memo, and why it is not more.
    const down = await status(runId);
    assert.equal(down.status, 'waiting_for_approval');
    assert.equal(down.step, 1, 'the step comes from the memo');
    assert.match(down.error ?? '', /no worker is polling|worker did not answer/);
    // approve_step works with no worker: the memo lists what is pending; the signal waits in history.
    const approvalId = waiting!.pendingApprovals[0]!.approvalId;
    const decided = await callTool(server.client, 'approve_step', { runId, approvalId, decision: 'approve' });
    assert.ok(!decided.isError, JSON.stringify(decided.content));
    await sleep(500);
    assert.equal(sink.requests().filter((r) => r.path === '/c3').length, 0, 'nothing happens without a worker');
    startWorker();
    const final = await result(runId);
    assert.equal(final.status, 'completed');
    assert.equal(sink.requests().filter((r) => r.path === '/c3').length, 1, 'the write happened once');
  });

  it('4. MCP server killed and restarted (worker alive): runs continue and are readable', async () => {
    model.script('c4', [{ delayMs: 3_000, then: { content: 'finished while the server was down' } }]);
    if (workers.size === 0) startWorker();
    const runId = await start({ task: 'c4 [script:c4]' });
    server.child.kill('SIGKILL');
    await new Promise<void>((resolve) => (server.child.exitCode !== null || server.child.signalCode !== null ? resolve() : server.child.once('exit', () => resolve())));
    await sleep(4_000);
    server = await spawnServer({ env: env(), args: ['serve', '--no-worker'] });
    const final = await result(runId);
    assert.equal(final.status, 'completed');
    assert.equal(final.result, 'finished while the server was down');
  });

  it('6. two workers, the one running the activity killed: the other finishes without a restart', async () => {
    for (const w of [...workers]) await kill(w);
    const a = startWorker();
    const b = startWorker();
    await sleep(2_000); // both polling
    model.script('c6', [{ delayMs: 30_000, then: { content: 'never' } }, { content: 'finished by the survivor' }]);
    const runId = await start({ task: 'c6 [script:c6]' });
    await waitFor('the model call', () => model.requests('c6').length === 1);
    const port = Number(new URL(model.baseUrl).port);
    const holder = pidConnectedTo(port);
    const victim = holder === b.pid ? b : a;
    assert.ok(holder === a.pid || holder === b.pid, `a worker holds the model connection (pid ${holder})`);
    await kill(victim);
    const survivor = victim === a ? b : a;
    const final = await result(runId);
    assert.equal(final.status, 'completed');
    assert.equal(final.result, 'finished by the survivor');
    assert.ok(alive(survivor.pid!), 'the survivor did the work');
  });

  it('scale-out: runs are spread over two worker processes, and killing one loses nothing', async () => {
    for (const w of [...workers]) await kill(w);
    // Two calls at a time per worker and slow model calls: eight runs at once must use both workers.
    const limits = { DURABLE_AGENT_LOG_LEVEL: 'debug', DURABLE_AGENT_MAX_CONCURRENT_ACTIVITIES: '2' };
    const a = startWorker(limits);
    const b = startWorker(limits);
    await sleep(2_000); // both polling
    const count = 8;
    for (let i = 0; i < count; i++) {
      // The reply follows the conversation, not the request count: a model call lost with the killed
      // worker is asked again and must again ask for the GET.
      model.script(`spread-${i}`, [
        (request: { messages: Array<{ role: string }> }) =>
          request.messages.some((m) => m.role === 'tool')
            ? { delayMs: 300, then: { content: `spread ${i}` } }
            : { delayMs: 1_500, then: { toolCalls: [{ name: 'http_request', arguments: { method: 'GET', url: `${sink.url}/spread/${i}` } }] } },
      ]);
    }
    const ids = await Promise.all(Array.from({ length: count }, (_, i) => start({ task: `spread [script:spread-${i}]`, approval: 'none' })));
    await waitFor('activities on both workers', () => [a, b].every((w) => /Activity completed/.test(workerLogs.get(w) ?? '')), 60_000);
    await kill(b);
    for (const [i, runId] of ids.entries()) {
      const final = await result(runId);
      assert.equal(final.status, 'completed', JSON.stringify(final));
      assert.equal(final.result, `spread ${i}`);
    }
    for (let i = 0; i < count; i++) assert.equal(sink.requests().filter((r) => r.path === `/spread/${i}`).length, 1);
  });

  it('7. worker killed mid-turn of parallel calls: finished calls are not repeated, the open one keeps its key', async () => {
    model.script('c7', [
      {
        toolCalls: [
          { name: 'http_request', arguments: { method: 'POST', url: `${sink.url}/c7/fast-a`, body: 'a' } },
          { name: 'http_request', arguments: { method: 'POST', url: `${sink.url}/slow-c7`, body: 'slow' } },
          { name: 'http_request', arguments: { method: 'POST', url: `${sink.url}/c7/fast-b`, body: 'b' } },
        ],
      },
      { content: 'three writes, each once' },
    ]);
    for (const w of [...workers]) await kill(w);
    const worker = startWorker();
    const runId = await start({ task: 'c7 [script:c7]', approval: 'none' });
    const connection = await Connection.connect({ address: dev.address });
    try {
      const client = new TemporalClient({ connection });
      // Both fast writes are recorded as done in the run's history while the slow one is still open.
      await waitFor('the fast writes recorded, the slow one open', async () => {
        const history = JSON.parse(historyToJSON(await client.workflow.getHandle(runId).fetchHistory())) as {
          events: Array<{ eventId: string; eventType: string; activityTaskScheduledEventAttributes?: { activityType: { name: string } }; activityTaskCompletedEventAttributes?: { scheduledEventId: string } }>;
        };
        const httpScheduled = new Set(
          history.events.filter((e) => e.activityTaskScheduledEventAttributes?.activityType.name === 'httpRequest').map((e) => e.eventId),
        );
        const httpDone = history.events.filter((e) => httpScheduled.has(e.activityTaskCompletedEventAttributes?.scheduledEventId ?? '')).length;
        return httpDone === 2 && sink.requests().some((r) => r.path === '/slow-c7');
      });
    } finally {
      await connection.close();
    }
    await kill(worker);
    startWorker();
    const final = await result(runId);
    assert.equal(final.status, 'completed', JSON.stringify(final));
    assert.equal(sink.requests().filter((r) => r.path === '/c7/fast-a').length, 1, 'a finished call is not repeated');
    assert.equal(sink.requests().filter((r) => r.path === '/c7/fast-b').length, 1, 'a finished call is not repeated');
    const slow = sink.requests().filter((r) => r.path === '/slow-c7');
    assert.ok(slow.length >= 1);
    assert.deepEqual([...new Set(slow.map((r) => r.headers['idempotency-key']))], [`${runId}/1-1`], 'a redelivery carries the same key');
    assert.equal(turns('c7', 0), 1, 'the model was not asked again for the turn');
  });

  it('8. worker killed during a slow read (a local activity): the read runs again, nothing before it repeats', async () => {
    model.script('c8', [
      { toolCalls: [{ name: 'http_request', arguments: { method: 'POST', url: `${sink.url}/c8/write`, body: 'w' } }] },
      { toolCalls: [{ name: 'http_request', arguments: { method: 'GET', url: `${sink.url}/slow-c8-read` } }] },
      { content: 'read after the crash' },
    ]);
    for (const w of [...workers]) await kill(w);
    const worker = startWorker();
    const runId = await start({ task: 'c8 [script:c8]', approval: 'none' });
    await waitFor('the slow read to reach the sink', () => sink.requests().some((r) => r.path === '/slow-c8-read'));
    await kill(worker);
    startWorker();
    const final = await result(runId);
    assert.equal(final.status, 'completed', JSON.stringify(final));
    assert.equal(final.result, 'read after the crash');
    assert.equal(sink.requests().filter((r) => r.path === '/c8/write').length, 1, 'the write before the read is not repeated');
    assert.equal(turns('c8', 0), 1, 'the first model call is not resent');
    assert.equal(turns('c8', 1), 1, 'the model call that asked for the read is not resent');
    assert.ok(sink.requests().filter((r) => r.path === '/slow-c8-read').length >= 1);
  });

  it('5. dev server killed and restarted on the same SQLite file: the run resumes and completes', async () => {
    model.script('c5', [{ toolCalls: [{ name: 'http_request', arguments: { method: 'GET', url: `${sink.url}/c5` } }] }, { delayMs: 4_000, then: { content: 'survived the server' } }]);
    if (workers.size === 0) startWorker();
    const runId = await start({ task: 'c5 [script:c5]' });
    await waitFor('the second model call', () => model.requests('c5').length === 2);
    const { dir } = dev;
    const port = Number(dev.address.split(':')[1]);
    dev.child.kill('SIGKILL');
    await sleep(1_000);
    dev = await startDevServer({ dir, port });
    const final = await result(runId);
    assert.equal(final.status, 'completed');
    assert.equal(sink.requests().filter((r) => r.path === '/c5').length, 1);
  });
});
