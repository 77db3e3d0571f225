/**
 * The background service (the default stdio mode): runs outlive the client, one service per data
 * dir, restart after SIGKILL, idle shutdown, and `service stop` leaving no process behind.
 */
import assert from 'node:assert/strict';
import fs from 'node:fs';
import path from 'node:path';
import { after, before, describe, it } from 'node:test';
import { startModelServer, type ModelServer } from './support/modelServer.js';
import { startSinkServer, type SinkServer } from './support/sinkServer.js';
import { startDevServer, type DevServer } from './support/temporal.js';
import { callTool } from './support/mcpStdio.js';
import { closeFront, processesMentioning, ServiceHome } from './support/service.js';
import { alive, sleep, waitFor } from './support/wait.js';

describe('background service per data dir', { timeout: 10 * 60_000 }, () => {
  let model: ModelServer;
  let sink: SinkServer;
  const homes: ServiceHome[] = [];

  before(async () => {
    [model, sink] = await Promise.all([startModelServer(), startSinkServer()]);
  });
  after(async () => {
    for (const home of homes) home.stop();
    await Promise.all([model?.close(), sink?.close()]);
  });

  function newHome(): ServiceHome {
    const home = new ServiceHome(() => ({
      OPENAI_BASE_URL: model.baseUrl,
      OPENAI_API_KEY: 'test-key',
      DURABLE_AGENT_MODEL: 'test-model',
      DURABLE_AGENT_HTTP_ALLOW: '127.0.0.1', // the sink is on loopback, which http_request refuses by default
    }));
    homes.push(home);
    return home;
  }

  it('a run keeps going after the client closes; a new front reads its result', async () => {
    const home = newHome();
    model.script('svc-outlive', [{ delayMs: 4_000, then: { content: 'finished without a client' } }]);
    const front = await home.front();
    const started = await callTool(front.client, 'start_agent_run', { task: 'long [script:svc-outlive]' });
    const { runId } = started.structuredContent as { runId: string };
    await waitFor('the model call to start', () => model.requests('svc-outlive').length === 1);
    const ms = await closeFront(front);
    assert.ok(ms < 2_000, `front exited ${ms} ms after stdin closed`);
    const svc = home.state();
    assert.ok(svc && alive(svc.pid), 'the service outlives the front');

    await sleep(5_000); // the run finishes with no front attached
    const again = await home.front();
    try {
      const status = await callTool(again.client, 'get_run_status', { runId });
      const body = status.structuredContent as { status: string; result?: string };
      assert.equal(body.status, 'completed');
      assert.equal(body.result, 'finished without a client');
      assert.equal(home.state()?.pid, svc.pid, 'the same service');
    } finally {
      await closeFront(again);
    }
  });

  it('three fronts started at once share one service', async () => {
    const home = newHome();
    const fronts = await Promise.all([1, 2, 3].map(() => home.front()));
    try {
      for (const f of fronts) {
        const listed = await callTool(f.client, 'list_runs', {});
        assert.ok(!listed.isError, JSON.stringify(listed.content));
      }
      const services = processesMentioning(home.dir).filter((l) => l.includes('service run'));
      assert.equal(services.length, 1, `one service, its data dir named in argv: ${services.join('\n')}`);
      const state = home.state();
      assert.ok(state && alive(state.pid));
      const runFiles = fs.readdirSync(path.join(home.dir, 'service', 'fronts'));
      assert.equal(runFiles.length, 3, 'three fronts attached');
      // Exactly one dev server for the data dir.
      const devServers = processesMentioning(home.dir).filter((l) => l.includes('start-dev'));
      assert.equal(devServers.length, 1, devServers.join('\n'));
    } finally {
      await Promise.all(fronts.map((f) => closeFront(f)));
    }
  });

  it('SIGKILL of the service mid-run: the next front restarts it and the run completes, the write once', async () => {
    const home = newHome();
    model.script('svc-kill', [
      { toolCalls: [{ name: 'http_request', arguments: { method: 'POST', url: `${sink.url}/svc-kill`, body: 'x' } }] },
      { delayMs: 6_000, then: { content: 'survived the kill' } },
    ]);
    const front = await home.front();
    const started = await callTool(front.client, 'start_agent_run', { task: 'write [script:svc-kill]', approval: 'none' });
    const { runId } = started.structuredContent as { runId: string };
    await waitFor('the second model call', () => model.requests('svc-kill').length === 2);
    const svc = home.state()!;
    process.kill(svc.pid, 'SIGKILL');
    await waitFor('the service to die', () => !alive(svc.pid));
    await closeFront(front);

    const next = await home.front();
    try {
      const result = await callTool(next.client, 'get_run_result', { runId, waitSeconds: 50 }, 90_000);
      const body = result.structuredContent as { status: string; result?: string };
      assert.equal(body.status, 'completed', JSON.stringify(body));
      assert.equal(body.result, 'survived the kill');
      assert.notEqual(home.state()?.pid, svc.pid, 'a new service');
      assert.equal(sink.requests().filter((r) => r.path === '/svc-kill').length, 1, 'the write happened once');
    } finally {
      await closeFront(next);
    }
  });

  it('an attached front restarts a service that died under it', async () => {
    const home = newHome();
    model.script('svc-watch', [{ content: 'after the restart' }]);
    const front = await home.front();
    try {
      await callTool(front.client, 'list_runs', {});
      const first = home.state()!;
      process.kill(first.pid, 'SIGKILL');
      await waitFor('a new service', () => {
        const now = home.state();
        return Boolean(now && now.pid !== first.pid && alive(now.pid));
      }, 30_000);
      const started = await callTool(front.client, 'start_agent_run', { task: 'go [script:svc-watch]' });
      const { runId } = started.structuredContent as { runId: string };
      const result = await callTool(front.client, 'get_run_result', { runId, waitSeconds: 40 });
      assert.equal((result.structuredContent as { status: string }).status, 'completed');
    } finally {
      await closeFront(front);
    }
  });

  it('idle shutdown waits while a run waits for approval, then stops the service; service stop leaves nothing', async () => {
    const home = newHome();
    const extra = { DURABLE_AGENT_IDLE_SHUTDOWN: '2' };
    model.script('svc-idle', [
      { toolCalls: [{ name: 'http_request', arguments: { method: 'POST', url: `${sink.url}/svc-idle` } }] },
      { content: 'ok' },
    ]);
    const front = await home.front(extra);
    const started = await callTool(front.client, 'start_agent_run', { task: 'needs approval [script:svc-idle]' });
    const { runId } = started.structuredContent as { runId: string };
    await waitFor('waiting for approval', async () => {
      const s = await callTool(front.client, 'get_run_status', { runId });
      return (s.structuredContent as { status: string }).status === 'waiting_for_approval';
    });
    await closeFront(front);
    const svc = home.state()!;
    await sleep(6_000);
    assert.ok(alive(svc.pid), 'no idle shutdown while a run waits for approval');

    const status = home.cli(['service', 'status'], extra);
    assert.equal(status.status, 0, status.stderr);
    assert.match(status.stdout, /open runs: 1/);
    assert.match(status.stdout, /web ui: http:\/\/127\.0\.0\.1:\d+/);

    const canceller = await home.front(extra);
    await callTool(canceller.client, 'cancel_run', { runId });
    await closeFront(canceller);
    await waitFor('idle shutdown', () => !alive(svc.pid), 30_000);
    await waitFor('the dev server to stop with it', () => processesMentioning(home.dir).length === 0, 15_000);

    // service start / stop leave no process of the data dir behind.
    const startOut = home.cli(['service', 'start']);
    assert.equal(startOut.status, 0, startOut.stderr);
    assert.match(startOut.stdout, /service: running/);
    const pid = home.state()!.pid;
    const stopOut = home.cli(['service', 'stop']);
    assert.equal(stopOut.status, 0, stopOut.stderr);
    assert.ok(!alive(pid));
    assert.deepEqual(processesMentioning(home.dir), []);
    const after = home.cli(['service', 'status']);
    assert.equal(after.status, 3);
    assert.match(home.cli(['service', 'logs']).stdout, /log file: .*service\.log/);
  });

  it('with TEMPORAL_ADDRESS the service holds only a worker; with --no-worker too, no service at all', async () => {
    let dev: DevServer | undefined;
    const home = newHome();
    try {
      dev = await startDevServer();
      const extra = { TEMPORAL_ADDRESS: dev.address, DURABLE_AGENT_TASK_QUEUE: `svc-remote-${process.pid}` };
      model.script('svc-remote', [{ content: 'done by the service worker' }]);
      const front = await home.front(extra);
      try {
        const started = await callTool(front.client, 'start_agent_run', { task: 'remote [script:svc-remote]' });
        const { runId } = started.structuredContent as { runId: string };
        const result = await callTool(front.client, 'get_run_result', { runId, waitSeconds: 40 });
        assert.equal((result.structuredContent as { status: string }).status, 'completed');
      } finally {
        await closeFront(front);
      }
      const state = home.state();
      assert.ok(state && alive(state.pid), 'a service runs');
      assert.equal(state.temporalAddress, dev.address, 'it uses the given Temporal');
      assert.equal(state.worker, true);
      assert.equal(home.devServer(), undefined, 'no embedded dev server was started');
      assert.deepEqual(processesMentioning(home.dir).filter((l) => l.includes('start-dev')), []);
      const status = home.cli(['service', 'status'], extra);
      assert.match(status.stdout, new RegExp(`temporal: ${dev.address.replace(/\./g, '\\.')}`));
      assert.doesNotMatch(status.stdout, /web ui:/);
      home.stop();
      assert.ok(!alive(state.pid));

      // Workers run elsewhere: the front serves on its own and starts no service.
      const bare = await home.front({ ...extra, DURABLE_AGENT_NO_WORKER: '1' });
      try {
        const listed = await callTool(bare.client, 'list_runs', {});
        assert.ok(!listed.isError, JSON.stringify(listed.content));
        assert.equal(home.state(), undefined, 'no service was started');
      } finally {
        await closeFront(bare);
      }
    } finally {
      await dev?.stop();
    }
  });
});
