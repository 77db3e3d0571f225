/**
 * The crash matrix again, in the default mode: stdio fronts and one background service per data
 * dir holding the embedded dev server and the worker. SIGKILL the service, a front, the dev server,
 * or the worker holding an activity; assert each run completes, each write reaches the sink once
 * (same Idempotency-Key on a retried delivery) and completed model calls are not sent again.
 */
import assert from 'node:assert/strict';
import { execFileSync, spawn, type ChildProcess } from 'node:child_process';
import { after, before, describe, it } from 'node:test';
import { startModelServer, type ModelServer } from './support/modelServer.js';
import { startSinkServer, type SinkServer } from './support/sinkServer.js';
import { callTool, cliPath, type SpawnedServer } from './support/mcpStdio.js';
import { runHelpers, turns as countTurns, type RunView } from './support/runs.js';
import { closeFront, ServiceHome } from './support/service.js';
import { alive, sleep, waitFor } from './support/wait.js';

describe('crash matrix in service mode (SIGKILL real processes)', { timeout: 12 * 60_000 }, () => {
  let model: ModelServer;
  let sink: SinkServer;
  let home: ServiceHome;
  const extraWorkers = new Set<ChildProcess>();

  before(async () => {
    [model, sink] = await Promise.all([startModelServer(), startSinkServer()]);
    home = new ServiceHome(() => ({
      OPENAI_BASE_URL: model.baseUrl,
      OPENAI_API_KEY: 'test-key',
      DURABLE_AGENT_MODEL: 'test-model',
      DURABLE_AGENT_HTTP_ALLOW: '127.0.0.1', // the sink is on loopback, which http_request refuses by default
    }));
  });
  after(async () => {
    for (const w of extraWorkers) w.kill('SIGKILL');
    home?.stop();
    await Promise.all([model?.close(), sink?.close()]);
  });

  /** Run helpers over one front's client. */
  const runs = (front: SpawnedServer) => runHelpers(() => front.client);
  /** SIGKILLs the data dir's service and waits until it is gone. */
  async function killService(): Promise<number> {
    const state = home.state();
    assert.ok(state && alive(state.pid), 'a service runs');
    process.kill(state.pid, 'SIGKILL');
    await waitFor('the service to die', () => !alive(state.pid));
    return state.pid;
  }
  const turns = (script: string, turn: number) => countTurns(model, script, turn);
  function writes(pathName: string) {
    return sink.requests().filter((r) => r.path === pathName);
  }

  it('service killed during a slow model call: the next front restarts it, the call is retried, earlier calls are not resent', async () => {
    model.script('s1', [
      { toolCalls: [{ name: 'http_request', arguments: { method: 'GET', url: `${sink.url}/s1` } }] },
      { delayMs: 30_000, then: { content: 'never' } },
      { content: 'done after the crash' },
    ]);
    const front = await home.front();
    const runId = await runs(front).start({ task: 's1 [script:s1]' });
    await waitFor('the slow second model call', () => model.requests('s1').length === 2, 60_000);
    await closeFront(front);
    const killed = await killService();

    const next = await home.front();
    try {
      const final = await runs(next).result(runId);
      assert.equal(final.status, 'completed', JSON.stringify(final));
      assert.equal(final.result, 'done after the crash');
      assert.notEqual(home.state()?.pid, killed, 'a new service');
      assert.equal(turns('s1', 0), 1, 'the first model call (completed before the crash) was not resent');
      assert.equal(writes('/s1').length, 1);
    } finally {
      await closeFront(next);
    }
  });

  it('service killed after a write reached the sink, before it reported back: one effect, the same key', async () => {
    model.script('s2', [
      { toolCalls: [{ name: 'http_request', arguments: { method: 'POST', url: `${sink.url}/slow-s2`, body: 'pay' } }] },
      { content: 'paid once' },
    ]);
    const front = await home.front();
    try {
      const runId = await runs(front).start({ task: 's2 [script:s2]', approval: 'none' });
      await waitFor('the write to reach the sink', () => writes('/slow-s2').length > 0);
      // The attached front's watchdog starts a new service by itself.
      const killed = await killService();
      const final = await runs(front).result(runId);
      assert.equal(final.status, 'completed', JSON.stringify(final));
      assert.equal(final.result, 'paid once');
      assert.notEqual(home.state()?.pid, killed);
      const keys = new Set(writes('/slow-s2').map((r) => r.headers['idempotency-key']));
      assert.equal(keys.size, 1, `every delivery carries the same Idempotency-Key (raw deliveries: ${writes('/slow-s2').length})`);
      assert.equal(turns('s2', 0), 1, 'the model call before the write was not resent');
    } finally {
      await closeFront(front);
    }
  });

  it('service killed while the run waits for approval: approval through the next front, the write happens once', async () => {
    model.script('s3', [
      { toolCalls: [{ name: 'http_request', arguments: { method: 'PUT', url: `${sink.url}/s3`, body: 'v' } }] },
      { content: 'approved and written' },
    ]);
    const front = await home.front();
    const runId = await runs(front).start({ task: 's3 [script:s3]' });
    let waiting: RunView | undefined;
    await waitFor('waiting for approval', async () => {
      waiting = await runs(front).status(runId);
      return waiting.status === 'waiting_for_approval';
    });
    await closeFront(front);
    await killService();

    const next = await home.front();
    try {
      const approvalId = waiting!.pendingApprovals[0]!.approvalId;
      const decided = await callTool(next.client, 'approve_step', { runId, approvalId, decision: 'approve' });
      assert.ok(!decided.isError, JSON.stringify(decided.content));
      const final = await runs(next).result(runId);
      assert.equal(final.status, 'completed', JSON.stringify(final));
      assert.equal(writes('/s3').length, 1, 'the write happened once');
      assert.equal(turns('s3', 0), 1);
    } finally {
      await closeFront(next);
    }
  });

  it('front SIGKILLed mid-run (as Claude Code does on exit): the run completes and a new front reads it', async () => {
    model.script('s4', [
      { toolCalls: [{ name: 'http_request', arguments: { method: 'POST', url: `${sink.url}/s4`, body: 'x' } }] },
      { delayMs: 3_000, then: { content: 'finished without its front' } },
    ]);
    const front = await home.front();
    const runId = await runs(front).start({ task: 's4 [script:s4]', approval: 'none' });
    await waitFor('the second model call', () => model.requests('s4').length === 2);
    const service = home.state()!.pid;
    front.child.kill('SIGKILL');
    await waitFor('the front to die', () => front.child.exitCode !== null || front.child.signalCode !== null);
    await sleep(4_000);
    assert.ok(alive(service), 'the service is untouched');

    const next = await home.front();
    try {
      const final = await runs(next).status(runId);
      assert.equal(final.status, 'completed', JSON.stringify(final));
      assert.equal(final.result, 'finished without its front');
      assert.equal(writes('/s4').length, 1);
      assert.equal(home.state()?.pid, service, 'the same service');
    } finally {
      await closeFront(next);
    }
  });

  it('embedded dev server killed: the service starts it again on the same address and SQLite file; the run completes', async () => {
    model.script('s5', [
      { toolCalls: [{ name: 'http_request', arguments: { method: 'POST', url: `${sink.url}/s5`, body: 'x' } }] },
      { delayMs: 4_000, then: { content: 'survived the dev server' } },
    ]);
    const front = await home.front();
    try {
      const runId = await runs(front).start({ task: 's5 [script:s5]', approval: 'none' });
      await waitFor('the second model call', () => model.requests('s5').length === 2);
      const before = home.devServer()!;
      const service = home.state()!.pid;
      process.kill(before.pid, 'SIGKILL');
      await waitFor('a new dev server', () => {
        const now = home.devServer();
        return Boolean(now && now.pid !== before.pid && alive(now.pid));
      }, 60_000);
      assert.equal(home.devServer()!.address, before.address, 'the same address');
      const final = await runs(front).result(runId);
      assert.equal(final.status, 'completed', JSON.stringify(final));
      assert.equal(final.result, 'survived the dev server');
      assert.equal(writes('/s5').length, 1);
      assert.equal(home.state()?.pid, service, 'the service itself kept running');
    } finally {
      await closeFront(front);
    }
  });

  it('a second worker on the service\'s Temporal: the one holding the activity is killed, the other finishes the run', async () => {
    const front = await home.front();
    try {
      await callTool(front.client, 'list_runs', {}); // the service is up
      const dev = home.devServer()!;
      const env: Record<string, string> = {};
      for (const [k, v] of Object.entries({ ...process.env, ...home.env({ TEMPORAL_ADDRESS: dev.address }) })) if (v !== undefined) env[k] = v;
      const extra = spawn(process.execPath, [cliPath, 'worker'], { env, stdio: ['ignore', 'ignore', 'pipe'] });
      extra.stderr.resume();
      extraWorkers.add(extra);
      extra.once('exit', () => extraWorkers.delete(extra));
      await sleep(2_000); // both polling

      model.script('s6', [{ delayMs: 30_000, then: { content: 'never' } }, { content: 'finished by the survivor' }]);
      const runId = await runs(front).start({ task: 's6 [script:s6]' });
      await waitFor('the model call', () => model.requests('s6').length === 1);
      const holder = pidConnectedTo(Number(new URL(model.baseUrl).port));
      const service = home.state()!.pid;
      assert.ok(holder === service || holder === extra.pid, `a worker holds the model connection (pid ${holder})`);
      const survivor = holder === service ? extra.pid! : service;
      if (holder === service) {
        // Close the front first so its watchdog does not start a replacement service.
        await closeFront(front);
        await killService();
      } else {
        extra.kill('SIGKILL');
      }
      await waitFor('the survivor to make the retried call', () => model.requests('s6').length === 2, 90_000);
      assert.ok(alive(survivor), 'the survivor did the work');
      const reader = front.child.exitCode === null ? front : await home.front();
      try {
        const final = await runs(reader).result(runId);
        assert.equal(final.status, 'completed', JSON.stringify(final));
        assert.equal(final.result, 'finished by the survivor');
      } finally {
        if (reader !== front) await closeFront(reader);
      }
    } finally {
      await closeFront(front);
    }
  });
});

/** The pid holding a TCP connection to `port`, via ss(8): which process runs the activity. */
function pidConnectedTo(port: number): number | undefined {
  const out = execFileSync('ss', ['-tnpH', 'state', 'established', `dst 127.0.0.1:${port}`], { encoding: 'utf8' });
  const m = /pid=(\d+)/.exec(out);
  return m ? Number(m[1]) : undefined;
}
