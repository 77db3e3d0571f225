/**
 * Process-level behaviour of the CLI: the embedded dev server shared per data dir, a server with
 * --no-worker plus a separate `worker` process, and configuration errors.
 */
import assert from 'node:assert/strict';
import { spawn, spawnSync } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { after, before, describe, it } from 'node:test';
import { startModelServer, type ModelServer } from './support/modelServer.js';
import { callTool, cliPath, spawnServer, type SpawnedServer } from './support/mcpStdio.js';
import { startDevServer, temporalCliPath, type DevServer } from './support/temporal.js';
import { alive, waitFor } from './support/wait.js';


function baseEnv(model: ModelServer, home: string): Record<string, string | undefined> {
  return {
    TEMPORAL_ADDRESS: undefined,
    OPENAI_BASE_URL: model.baseUrl,
    OPENAI_API_KEY: 'test-key',
    DURABLE_AGENT_MODEL: 'test-model',
    DURABLE_AGENT_HOME: home,
    DURABLE_AGENT_NO_SERVICE: '1',
    TEMPORAL_CLI_PATH: temporalCliPath(),
  };
}

async function runToCompletion(server: SpawnedServer, task: string): Promise<Record<string, unknown>> {
  const started = await callTool(server.client, 'start_agent_run', { task });
  assert.ok(!started.isError, JSON.stringify(started.content));
  const { runId } = started.structuredContent as { runId: string };
  const result = await callTool(server.client, 'get_run_result', { runId, waitSeconds: 40 });
  return result.structuredContent as Record<string, unknown>;
}

describe('CLI processes', { timeout: 10 * 60_000 }, () => {
  let model: ModelServer;
  before(async () => {
    model = await startModelServer();
  });
  after(async () => {
    await model?.close();
  });

  it('--help, --version and bad configuration', () => {
    const help = spawnSync(process.execPath, [cliPath, '--help'], { encoding: 'utf8' });
    assert.equal(help.status, 0);
    assert.match(help.stdout, /Usage: durable-agent-mcp/);
    assert.match(help.stdout, /DURABLE_AGENT_TASK_QUEUE/);
    const version = spawnSync(process.execPath, [cliPath, '--version'], { encoding: 'utf8' });
    assert.equal(version.status, 0);
    assert.match(version.stdout.trim(), /^\d+\.\d+\.\d+$/);

    const cases: Array<{ args: string[]; env?: Record<string, string>; expect: RegExp }> = [
      { args: ['--port', 'nope'], expect: /--port \/ DURABLE_AGENT_PORT/ },
      { args: [], env: { DURABLE_AGENT_TRANSPORT: 'carrier-pigeon' }, expect: /--transport \/ DURABLE_AGENT_TRANSPORT/ },
      { args: ['--frobnicate'], expect: /unknown flag --frobnicate/ },
      { args: ['launch'], expect: /unknown command "launch"/ },
      { args: [], env: { TEMPORAL_CLI_PATH: '/nonexistent/temporal' }, expect: /TEMPORAL_CLI_PATH/ },
    ];
    for (const c of cases) {
      const env = { ...process.env, TEMPORAL_ADDRESS: '', ...c.env };
      const res = spawnSync(process.execPath, [cliPath, ...c.args], { encoding: 'utf8', env, input: '' , timeout: 20_000 });
      assert.equal(res.status, 2, `${c.args.join(' ')}: exit ${res.status}, stderr ${res.stderr}`);
      assert.equal(res.stdout, '', 'nothing on stdout');
      const lines = res.stderr.trim().split('\n');
      assert.equal(lines.length, 1, `one stderr line, got: ${res.stderr}`);
      assert.match(lines[0]!, c.expect);
    }
  });

  it('embedded dev server: started once per data dir, shared, stopped with the last process', async () => {
    const home = fs.mkdtempSync(path.join(os.tmpdir(), 'da-home-'));
    const env = baseEnv(model, home);
    model.script('emb1', [{ content: 'first answer' }]);
    model.script('emb2', [{ content: 'second answer' }]);

    const first = await spawnServer({ env });
    const stateFile = path.join(home, 'temporal', 'dev-server.json');
    let second: SpawnedServer | undefined;
    try {
      const r1 = await runToCompletion(first, 'say hi [script:emb1]');
      assert.equal(r1.status, 'completed');
      assert.equal(r1.result, 'first answer');
      assert.ok(fs.existsSync(path.join(home, 'temporal', 'dev.db')), 'SQLite file in the data dir');
      assert.ok(fs.existsSync(path.join(home, 'temporal', 'dev.db-wal')), 'SQLite in WAL mode');
      const state = JSON.parse(fs.readFileSync(stateFile, 'utf8')) as { pid: number; address: string };
      assert.ok(alive(state.pid));
      const devArgs = fs.readFileSync(`/proc/${state.pid}/cmdline`, 'utf8').split('\0');
      const searchAttributes = ['DurableAgentOwner=Keyword', 'DurableAgentStatus=Keyword', 'DurableAgentStartedAt=Datetime'];
      for (const setting of ['history.transferProcessorMaxPollRPS=1000', 'journal_mode=wal', 'synchronous=full', ...searchAttributes]) {
        assert.ok(devArgs.includes(setting), `the embedded dev server runs with ${setting}: ${devArgs.join(' ')}`);
      }
      assert.doesNotMatch(first.stderr(), /list_runs falls back to scanning/, 'list_runs finds its search attributes registered');

      second = await spawnServer({ env });
      const r2 = await runToCompletion(second, 'say hi again [script:emb2]');
      assert.equal(r2.status, 'completed');
      const state2 = JSON.parse(fs.readFileSync(stateFile, 'utf8')) as { pid: number; address: string };
      assert.equal(state2.pid, state.pid, 'the second process reused the running dev server');

      // The first run is visible from the second process: one Temporal behind both.
      const listed = await callTool(second.client, 'list_runs', { limit: 10 });
      assert.equal((listed.structuredContent as { runs: unknown[] }).runs.length, 2);

      await first.close();
      assert.ok(alive(state.pid), 'dev server keeps running while another process uses it');
      await second.close();
      second = undefined;
      await waitFor('the dev server to stop', () => !alive(state.pid));
    } finally {
      await first.close();
      await second?.close();
    }
  });

  it('embedded dev server: a port taken while it starts is given up for a fresh one', async () => {
    const home = fs.mkdtempSync(path.join(os.tmpdir(), 'da-home-'));
    const wrapDir = fs.mkdtempSync(path.join(os.tmpdir(), 'da-cli-wrap-'));
    // A Temporal CLI that, the first time only, has another process take the Web UI port it was given
    // before it binds it (what a busy machine can do between our check of the port and the bind).
    const wrapper = path.join(wrapDir, 'temporal');
    const holder = `require('net').createServer().listen(Number(process.argv[1]), '127.0.0.1', () => require('fs').writeFileSync(process.argv[2], String(process.pid))); setTimeout(() => process.exit(0), 60000)`;
    fs.writeFileSync(
      wrapper,
      [
        '#!/bin/bash',
        `if [ ! -e '${wrapDir}/held' ]; then`,
        '  prev=""; for a in "$@"; do [ "$prev" = "--ui-port" ] && ui="$a"; prev="$a"; done',
        `  echo "$ui" > '${wrapDir}/held'`,
        `  '${process.execPath}' -e "${holder}" "$ui" '${wrapDir}/holder' &`,
        `  while [ ! -e '${wrapDir}/holder' ]; do sleep 0.05; done`,
        'fi',
        `exec '${temporalCliPath()}' "$@"`,
        '',
      ].join('\n'),
      { mode: 0o755 },
    );
    model.script('taken-port', [{ content: 'started anyway' }]);
    const server = await spawnServer({ env: { ...baseEnv(model, home), TEMPORAL_CLI_PATH: wrapper } });
    let devPid: number | undefined;
    try {
      // The dev server starts with the first call that needs Temporal.
      const r = await runToCompletion(server, 'go [script:taken-port]');
      assert.equal(r.status, 'completed');
      assert.equal(r.result, 'started anyway');
      const held = Number(fs.readFileSync(path.join(wrapDir, 'held'), 'utf8'));
      assert.ok(held > 0, 'the first start was given a Web UI port, and it was taken');
      const state = JSON.parse(fs.readFileSync(path.join(home, 'temporal', 'dev-server.json'), 'utf8')) as { pid: number; uiUrl: string };
      devPid = state.pid;
      assert.notEqual(Number(new URL(state.uiUrl).port), held, 'the dev server runs on another Web UI port');
      assert.match(server.stderr(), /taken while it started; starting it again/);
    } finally {
      await server.close();
      const holderPid = fs.existsSync(path.join(wrapDir, 'holder')) ? Number(fs.readFileSync(path.join(wrapDir, 'holder'), 'utf8')) : 0;
      if (holderPid > 0 && alive(holderPid)) process.kill(holderPid);
    }
    if (devPid !== undefined) await waitFor('the dev server to stop', () => !alive(devPid));
  });

  describe('serve --no-worker with a separate worker process', () => {
    let dev: DevServer;
    before(async () => {
      dev = await startDevServer();
    });
    after(async () => {
      await dev?.stop();
    });

    it('runs wait for a worker, then the worker process finishes them', async () => {
      const home = fs.mkdtempSync(path.join(os.tmpdir(), 'da-home-'));
      const env = { ...baseEnv(model, home), TEMPORAL_ADDRESS: dev.address, DURABLE_AGENT_TASK_QUEUE: `split-${process.pid}` };
      model.script('split', [{ content: 'done by the worker' }]);
      const server = await spawnServer({ env, args: ['serve', '--no-worker'] });
      let worker: ReturnType<typeof spawn> | undefined;
      try {
        const started = await callTool(server.client, 'start_agent_run', { task: 'work [script:split]' });
        const { runId } = started.structuredContent as { runId: string };
        // No worker: status still answers promptly from what Temporal knows.
        const t0 = Date.now();
        const status = await callTool(server.client, 'get_run_status', { runId });
        assert.ok(Date.now() - t0 < 8_000, 'status answers without a worker');
        assert.ok(!status.isError);
        const body = status.structuredContent as { status: string; error?: string };
        assert.equal(body.status, 'running');
        assert.match(body.error ?? '', /no worker is polling/);
        assert.equal(model.requests('split').length, 0, 'nothing ran without a worker');
        const listed = await callTool(server.client, 'list_runs', {});
        assert.ok(!listed.isError, JSON.stringify(listed.content));
        const runs = (listed.structuredContent as { runs: Array<{ runId: string; status: string }> }).runs;
        assert.deepEqual(runs.find((r) => r.runId === runId)?.status, 'running', 'list_runs works with no worker');

        const childEnv: Record<string, string> = {};
        for (const [k, v] of Object.entries({ ...process.env, ...env })) if (v !== undefined) childEnv[k] = v;
        worker = spawn(process.execPath, [cliPath, 'worker'], { env: childEnv, stdio: ['ignore', 'pipe', 'pipe'] });
        let workerStdout = '';
        worker.stdout?.on('data', (c: Buffer) => (workerStdout += c.toString()));
        worker.stderr?.resume();
        const result = await callTool(server.client, 'get_run_result', { runId, waitSeconds: 45 });
        const final = result.structuredContent as { status: string; result?: string };
        assert.equal(final.status, 'completed');
        assert.equal(final.result, 'done by the worker');
        assert.equal(workerStdout, '', 'the worker writes nothing to stdout');
      } finally {
        worker?.kill('SIGTERM');
        await server.close();
      }
    });
  });
});
