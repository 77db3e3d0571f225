/**
 * A task outlives the processes around it. Four tasks, one per era and transport (2026-07-28 and
 * 2025-11-25, over stdio and over HTTP), each waiting for an approval; then SIGKILL of the worker (the
 * tasks still answer), SIGKILL of every MCP server (the HTTP one and the stdio ones), fresh servers and
 * fresh client connections, a fresh worker: the same task ids answer, the approvals are given inline,
 * and each approved write reaches the outside world exactly once.
 */
import assert from 'node:assert/strict';
import type { ChildProcess } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { after, before, describe, it } from 'node:test';
import { startModelServer, type ModelServer } from './support/modelServer.js';
import { startSinkServer, type SinkServer } from './support/sinkServer.js';
import { serverEnv, spawnCli } from './support/serverEnv.js';
import { connectTaskClient, pollTask, startTask, taskRequest, type TaskConn, type TaskTransport } from './support/taskClients.js';
import { freePort, startDevServer, type DevServer } from './support/temporal.js';
import { waitFor } from './support/wait.js';

const TOKEN = 'tasks-crash-token-0123456789';
const COMBOS = [
  ['stdio', 'modern'],
  ['stdio', 'legacy'],
  ['http', 'modern'],
  ['http', 'legacy'],
] as const;

describe('tasks survive SIGKILL of the worker and of the servers', { timeout: 4 * 60_000 }, () => {
  let dev: DevServer;
  let model: ModelServer;
  let sink: SinkServer;
  const uniq = `${process.pid}-${Date.now().toString(36)}`;
  const home = fs.mkdtempSync(path.join(os.tmpdir(), 'da-tasks-crash-'));
  const children: ChildProcess[] = [];
  const conns: TaskConn[] = [];
  let stderr = '';

  const env = () => serverEnv({ temporalAddress: dev.address, modelUrl: model.baseUrl, home, taskQueue: `tasks-crash-${uniq}` }, { DURABLE_AGENT_TOKEN: TOKEN });

  function launch(args: string[]): ChildProcess {
    const child = spawnCli(args, env(), (text) => (stderr += text));
    children.push(child);
    return child;
  }

  const startWorker = (): ChildProcess => launch(['worker']);

  async function startHttp(port: number): Promise<ChildProcess> {
    const server = launch(['serve', '--transport', 'http', '--port', String(port), '--no-worker']);
    await waitFor('the HTTP server to answer /healthz', async () => (await fetch(`http://127.0.0.1:${port}/healthz`).catch(() => undefined))?.status !== undefined, 60_000);
    return server;
  }

  const kill = async (child: ChildProcess): Promise<void> => {
    if (child.exitCode !== null || child.signalCode !== null) return;
    const gone = new Promise((resolve) => child.once('exit', resolve));
    child.kill('SIGKILL');
    await gone;
  };

  before(async () => {
    [dev, model, sink] = await Promise.all([startDevServer(), startModelServer(), startSinkServer()]);
  });

  after(async () => {
    if (process.exitCode) process.stderr.write(`server and worker stderr (tail):\n${stderr.slice(-3000)}\n`);
    for (const c of conns) await c.close().catch(() => undefined);
    for (const child of children) child.kill('SIGKILL');
    await Promise.all([dev?.stop(), model?.close(), sink?.close()].map((p) => p?.catch(() => undefined)));
    fs.rmSync(home, { recursive: true, force: true });
  });

  it('the same task ids work across the restarts; each approved write happens exactly once', async () => {
    const port = await freePort();
    const url = `http://127.0.0.1:${port}/mcp`;
    let http = await startHttp(port);
    let worker = startWorker();
    await waitFor(
      '/healthz to see a polling worker',
      async () => ((await (await fetch(`http://127.0.0.1:${port}/healthz`)).json()) as { worker: string }).worker === 'polling',
      60_000,
    );
    const connectAll = () =>
      Promise.all(COMBOS.map(([transport, era]) => connectTaskClient(transport as TaskTransport, era, transport === 'stdio' ? { env: env() } : { url, token: TOKEN })));

    // Four tasks, each waiting for its approval.
    let round = await connectAll();
    conns.push(...round);
    const tasks = await Promise.all(
      round.map(async (conn) => {
        const script = `crash-${conn.transport}-${conn.era}-${uniq}`;
        const postPath = `/crash/${script}`;
        model.script(script, [
          { toolCalls: [{ name: 'http_request', arguments: { method: 'POST', url: `${sink.url}${postPath}`, body: 'x' } }] },
          { content: `done ${script}` },
        ]);
        const created = await startTask(conn, { task: `Post once [script:${script}]` });
        const taskId: string = created.structuredContent.runId;
        await pollTask(conn, taskId, (t) => t.status === 'input_required', 'input_required', 60_000);
        return { transport: conn.transport, era: conn.era, taskId, postPath };
      }),
    );

    // No worker: every task still answers (from what the run recorded and Temporal itself knows).
    await kill(worker);
    for (const [i, conn] of round.entries()) {
      const task = await taskRequest(conn, 'tasks/get', { taskId: tasks[i]!.taskId });
      assert.equal(task.taskId, tasks[i]!.taskId);
      assert.ok(['working', 'input_required'].includes(task.status), JSON.stringify(task));
    }

    // No servers either: SIGKILL the HTTP server and every stdio server.
    await kill(http);
    for (const conn of round) if (conn.stdio) await kill(conn.stdio.child);
    for (const conn of round) await conn.close().catch(() => undefined);

    // Fresh servers, fresh connections, then a fresh worker.
    http = await startHttp(port);
    round = await connectAll();
    conns.push(...round);
    for (const [i, conn] of round.entries()) {
      // The run's status record lists its approval even with no worker, so a 2025-11-25 server may
      // ask for it at once: the person approves whenever asked, and the decision waits in history.
      conn.answerFor.set(tasks[i]!.taskId, () => ({ action: 'accept', content: { decision: 'approve' } }));
      const task = await taskRequest(conn, 'tasks/get', { taskId: tasks[i]!.taskId });
      assert.equal(task.taskId, tasks[i]!.taskId, `${conn.name} after the restart`);
    }
    worker = startWorker();

    await Promise.all(
      round.map(async (conn, i) => {
        const { taskId, postPath } = tasks[i]!;
        const waiting = await pollTask(conn, taskId, (t) => t.status === 'input_required' || t.status === 'completed', 'input_required again', 60_000);
        if (conn.era === 'modern' && waiting.status === 'input_required') {
          const key = Object.keys(waiting.inputRequests)[0]!;
          await taskRequest(conn, 'tasks/update', { taskId, inputResponses: { [key]: { action: 'accept', content: { decision: 'approve' } } } });
        }
        const done = await pollTask(conn, taskId, (t) => t.status === 'completed', 'completed', 60_000);
        assert.equal(done.status, 'completed', `${conn.name}: ${JSON.stringify(done)}`);
        assert.equal(sink.requests().filter((r) => r.method === 'POST' && r.path === postPath).length, 1, `${conn.name}: the write happened exactly once`);
      }),
    );
    await kill(worker);
  });
});
