/**
 * State files that cannot be trusted: pids of unrelated processes planted in every record and lock,
 * corrupted records while the processes run, an unreachable Temporal at idle time, and what the
 * data dir and the dev server may expose (file modes, environment).
 */
import assert from 'node:assert/strict';
import { spawn, type ChildProcess } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { after, before, describe, it } from 'node:test';
import { commandLine, findProcesses, isAlive, isOurs, parseRecord, processStartId, recordOf } from '../src/processes/identity.js';
import { writeFileAtomic } from '../src/processes/stateFiles.js';
import { minimalEnv } from '../src/temporal/devServer.js';
import { callTool } from './support/mcpStdio.js';
import { startModelServer, type ModelServer } from './support/modelServer.js';
import { closeFront, ServiceHome } from './support/service.js';
import { startDevServer, type DevServer } from './support/temporal.js';
import { alive, sleep, waitFor } from './support/wait.js';

// Checked independently of the code under test: argv and environment straight from /proc.
function procArgv(pid: number): string[] {
  try {
    return fs.readFileSync(`/proc/${pid}/cmdline`, 'utf8').replace(/\0$/, '').split('\0');
  } catch {
    return [];
  }
}

function procEnv(pid: number): Record<string, string> {
  const env: Record<string, string> = {};
  try {
    for (const entry of fs.readFileSync(`/proc/${pid}/environ`, 'utf8').split('\0')) {
      const eq = entry.indexOf('=');
      if (eq > 0) env[entry.slice(0, eq)] = entry.slice(eq + 1);
    }
  } catch {
    /* gone */
  }
  return env;
}

function pids(match: (argv: string[], pid: number) => boolean): number[] {
  return fs
    .readdirSync('/proc')
    .filter((n) => /^\d+$/.test(n) && Number(n) !== process.pid)
    .map(Number)
    .filter((pid) => match(procArgv(pid), pid));
}

/** Whether a child still runs untouched: a signalled one may linger as a zombie, which kill(pid, 0) does not tell. */
async function untouched(child: ChildProcess): Promise<boolean> {
  await sleep(200); // lets an exit be reaped and reported
  let stat = '';
  try {
    stat = fs.readFileSync(`/proc/${child.pid}/stat`, 'utf8');
  } catch {
    return false;
  }
  const state = stat.slice(stat.lastIndexOf(')') + 2).split(' ')[0];
  return child.exitCode === null && child.signalCode === null && state !== 'Z';
}

const valueOf = (argv: string[], flag: string) => argv[argv.indexOf(flag) + 1];
/** `temporal server start-dev` processes on the data dir's SQLite file. */
const devServersOf = (dir: string) =>
  pids((argv) => argv.includes('start-dev') && valueOf(argv, '--db-filename') === path.join(dir, 'temporal', 'dev.db'));
/** `service run` processes of the data dir, named in argv or (older versions) in the environment. */
const servicesOf = (dir: string) =>
  pids((argv, pid) => {
    const i = argv.indexOf('service');
    return i > 0 && argv[i + 1] === 'run' && (argv.includes(`--data-dir=${dir}`) || procEnv(pid).DURABLE_AGENT_HOME === dir);
  });
/** Every process that belongs to the data dir: named in its argv or its environment. */
const processesOf = (dir: string) =>
  pids((argv, pid) => argv.some((a) => a.includes(dir)) || procEnv(pid).DURABLE_AGENT_HOME === dir);

describe('state that cannot be trusted', { timeout: 10 * 60_000 }, () => {
  let model: ModelServer;
  let sleeper: ChildProcess;
  let home: ServiceHome;
  const homes: ServiceHome[] = [];

  before(async () => {
    model = await startModelServer();
    sleeper = spawn('sleep', ['600'], { stdio: 'ignore' });
    home = newHome();
  });
  after(async () => {
    for (const h of homes) h.stop();
    sleeper?.kill('SIGKILL');
    await model?.close();
  });

  function newHome(): ServiceHome {
    const h = new ServiceHome(() => ({
      OPENAI_BASE_URL: model.baseUrl,
      OPENAI_API_KEY: 'sk-test-must-not-leak',
      DURABLE_AGENT_MODEL: 'test-model',
    }));
    homes.push(h);
    return h;
  }

  /** The sleep's pid in every record, lock and registry of the data dir, as a reboot leaves them. */
  function plantStalePids(dir: string): void {
    const pid = sleeper.pid!;
    // A live address that is not Temporal: only the pid's identity can tell the record is stale.
    const address = new URL(model.baseUrl).host;
    const file = (rel: string, text: string) => {
      fs.mkdirSync(path.dirname(path.join(dir, rel)), { recursive: true });
      fs.writeFileSync(path.join(dir, rel), text, { mode: 0o600 });
    };
    file('temporal/dev-server.json', JSON.stringify({ pid, address, uiUrl: `http://${address}`, startedAt: new Date().toISOString() }));
    file('service/service.json', JSON.stringify({ pid, temporalAddress: address, namespace: 'default', taskQueue: 'q', worker: true, startedAt: new Date().toISOString() }));
    file('service/start.lock/pid', String(pid));
    file('temporal/start.lock/pid', String(pid));
    file(`service/fronts/${pid}`, new Date().toISOString());
    file(`temporal/users/${pid}`, new Date().toISOString());
    // Directories as older versions left them: world-readable.
    for (const d of ['.', 'temporal', 'service']) fs.chmodSync(path.join(dir, d), 0o755);
  }

  it('process identity helpers: start ids, argv, records, atomic private files, minimal env', async () => {
    const self = processStartId(process.pid);
    assert.ok(self, 'a start id for this process');
    assert.equal(processStartId(process.pid), self, 'stable');
    assert.notEqual(processStartId(sleeper.pid!), self, 'another process has another start id');
    assert.deepEqual(commandLine(sleeper.pid!), ['sleep', '600']);
    assert.ok(findProcesses((argv) => argv[0] === 'sleep' && argv[1] === '600').includes(sleeper.pid!));

    assert.ok(isOurs(recordOf(sleeper.pid!)), 'a record with the right start id');
    assert.ok(!isOurs({ pid: sleeper.pid!, startId: `${self}x` }), 'the same pid with another start id is stale');
    assert.ok(!isOurs({ pid: sleeper.pid! }), 'a record without start id needs a recognised argv');
    assert.ok(isOurs({ pid: sleeper.pid! }, (argv) => argv[0] === 'sleep'));
    const gone = spawn('true');
    await new Promise((r) => gone.once('exit', r));
    assert.ok(!isOurs(recordOf(gone.pid!)) && !isOurs({ pid: gone.pid! }, () => true), 'a dead pid is never ours');
    // A killed child stays a zombie until this (blocked) event loop reaps it: it is gone all the same.
    const zombie = spawn('sleep', ['600'], { stdio: 'ignore' });
    const zombieRecord = recordOf(zombie.pid!);
    zombie.kill('SIGKILL');
    const until = Date.now() + 5_000;
    const state = () => { try { return fs.readFileSync(`/proc/${zombie.pid}/stat`, 'utf8').split(') ')[1]?.[0]; } catch { return undefined; } };
    while (state() !== 'Z' && Date.now() < until) { /* wait for the kill to land, without reaping */ }
    assert.equal(state(), 'Z');
    assert.ok(!isAlive(zombie.pid!) && !isOurs(zombieRecord), 'a zombie is not alive');

    assert.deepEqual(parseRecord('123\n'), { pid: 123 });
    assert.deepEqual(parseRecord('{"pid":5,"startId":"b:1"}'), { pid: 5, startId: 'b:1' });
    assert.equal(parseRecord('{"pid": 12'), undefined);

    const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'da-atomic-'));
    const file = path.join(dir, 'state.json');
    fs.writeFileSync(file, 'old', { mode: 0o644 });
    writeFileAtomic(file, '{"new":true}');
    assert.equal(fs.readFileSync(file, 'utf8'), '{"new":true}');
    assert.equal(fs.statSync(file).mode & 0o777, 0o600);
    assert.deepEqual(fs.readdirSync(dir), ['state.json'], 'no temp file left');

    const env = minimalEnv({ PATH: '/bin', HOME: '/h', LANG: 'C', LC_ALL: 'C', TZ: 'UTC', OPENAI_API_KEY: 'k', TEMPORAL_API_KEY: 'k', DURABLE_AGENT_HOME: '/d', DURABLE_AGENT_TOKEN: 't' });
    assert.deepEqual(env, { PATH: '/bin', HOME: '/h', LANG: 'C', LC_ALL: 'C', TZ: 'UTC' });
  });

  it('pids of an unrelated process in every record and lock: ignored, never signalled', async () => {
    plantStalePids(home.dir);
    const status = home.cli(['service', 'status']);
    assert.equal(status.status, 3, `status exits 3 for a stale record: ${status.stdout}${status.stderr}`);
    assert.match(status.stdout, /service: not running/);

    const stop = home.cli(['service', 'stop']);
    assert.equal(stop.status, 0, stop.stderr);
    assert.ok(await untouched(sleeper), 'service stop did not signal the unrelated process');

    plantStalePids(home.dir);
    let t0 = Date.now();
    const start = home.cli(['service', 'start']);
    assert.equal(start.status, 0, start.stderr);
    assert.match(start.stdout, /service: running/);
    assert.ok(Date.now() - t0 < 40_000, `service start took ${Date.now() - t0} ms`);
    assert.ok(await untouched(sleeper));
    assert.equal(devServersOf(home.dir).length, 1, 'a dev server of its own');

    const stop2 = home.cli(['service', 'stop']);
    assert.equal(stop2.status, 0, stop2.stderr);
    assert.deepEqual(servicesOf(home.dir), [], 'the service stopped');
    assert.deepEqual(devServersOf(home.dir), [], 'the dev server stopped despite the stale user entry');

    plantStalePids(home.dir);
    t0 = Date.now();
    const front = await home.front();
    try {
      const tools = await front.client.listTools();
      assert.ok(tools.tools.some((t) => t.name === 'list_runs'));
      const listed = await callTool(front.client, 'list_runs', {});
      assert.ok(!listed.isError, JSON.stringify(listed.content));
      assert.ok(Date.now() - t0 < 40_000, `the first tool call answered after ${Date.now() - t0} ms`);
    } finally {
      await closeFront(front);
    }
    assert.ok(await untouched(sleeper), 'the unrelated process is still alive');
    assert.equal(servicesOf(home.dir).length, 1);
    assert.notEqual(home.state()?.pid, sleeper.pid);
  });

  it('the dev server gets a minimal environment: no model key, no settings', () => {
    const [dev] = devServersOf(home.dir);
    assert.ok(dev, 'the service runs a dev server');
    const env = procEnv(dev);
    assert.ok(env.PATH, 'PATH is passed');
    for (const name of ['OPENAI_API_KEY', 'OPENAI_BASE_URL', 'DURABLE_AGENT_HOME', 'DURABLE_AGENT_MODEL', 'TEMPORAL_CLI_PATH']) {
      assert.equal(env[name], undefined, `${name} is not passed to the dev server`);
    }
  });

  it('the data dir and its state directories are 0700, every file in them owner-only', () => {
    for (const d of ['.', 'temporal', 'service']) {
      assert.equal(fs.statSync(path.join(home.dir, d)).mode & 0o777, 0o700, `${d} is 0700`);
    }
    const files: string[] = [];
    const walk = (dir: string) => {
      for (const entry of fs.readdirSync(dir, { withFileTypes: true })) {
        const full = path.join(dir, entry.name);
        if (entry.isDirectory()) walk(full);
        else if (entry.isFile()) files.push(full);
      }
    };
    walk(home.dir);
    for (const expected of ['temporal/dev.db', 'temporal/dev.db-wal', 'temporal/dev-server.json', 'temporal/dev-server.log', 'service/service.json', 'service/service.log']) {
      assert.ok(files.includes(path.join(home.dir, expected)), `${expected} exists`);
    }
    const open = files.filter((f) => (fs.statSync(f).mode & 0o077) !== 0).map((f) => `${f} ${(fs.statSync(f).mode & 0o777).toString(8)}`);
    assert.deepEqual(open, [], 'no file readable by group or others');
  });

  it('a corrupted dev-server.json: the next process adopts the running dev server, no second one', async () => {
    const [dev] = devServersOf(home.dir);
    assert.ok(dev);
    const record = path.join(home.dir, 'temporal', 'dev-server.json');
    fs.writeFileSync(record, '{"pid": 12');
    const inProcess = await home.front({ DURABLE_AGENT_NO_SERVICE: '1' });
    try {
      const listed = await callTool(inProcess.client, 'list_runs', {});
      assert.ok(!listed.isError, JSON.stringify(listed.content));
      assert.deepEqual(devServersOf(home.dir), [dev], 'one dev server on the SQLite file');
      assert.equal((JSON.parse(fs.readFileSync(record, 'utf8')) as { pid: number }).pid, dev, 'the record was rewritten');
    } finally {
      await closeFront(inProcess);
    }
    assert.ok(alive(dev), 'the service still uses it');
  });

  it('a corrupted service.json: the service writes it again; a front meanwhile starts no second one; service stop leaves no process', async () => {
    const [service] = servicesOf(home.dir);
    assert.ok(service);
    const record = path.join(home.dir, 'service', 'service.json');
    fs.writeFileSync(record, '{"pid":');
    await waitFor('the service to write its record again', () => home.state()?.pid === service, 15_000);

    fs.writeFileSync(record, 'not json');
    const front = await home.front();
    try {
      const listed = await callTool(front.client, 'list_runs', {});
      assert.ok(!listed.isError, JSON.stringify(listed.content));
      const services = servicesOf(home.dir);
      assert.equal(services.length, 1, `one service process: ${services.join(', ')}`);
      assert.equal(home.state()?.pid, services[0]);
    } finally {
      await closeFront(front);
    }
    // Whatever the records say, stop finds the processes.
    fs.writeFileSync(path.join(home.dir, 'service', 'service.json'), '');
    fs.writeFileSync(path.join(home.dir, 'temporal', 'dev-server.json'), '[]');
    const stop = home.cli(['service', 'stop']);
    assert.equal(stop.status, 0, stop.stderr);
    assert.deepEqual(processesOf(home.dir).map((pid) => procArgv(pid).join(' ')), []);
  });

  it('a service whose Temporal is unreachable still idles out', async () => {
    const dev: DevServer = await startDevServer();
    const remote = newHome();
    const extra = { TEMPORAL_ADDRESS: dev.address, DURABLE_AGENT_IDLE_SHUTDOWN: '2', DURABLE_AGENT_TASK_QUEUE: `stale-idle-${process.pid}` };
    try {
      model.script('stale-idle', [{ toolCalls: [{ name: 'http_request', arguments: { method: 'POST', url: 'https://example.com/x' } }] }]);
      const front = await remote.front(extra);
      try {
        const started = await callTool(front.client, 'start_agent_run', { task: 'wait [script:stale-idle]' });
        const { runId } = started.structuredContent as { runId: string };
        await waitFor('waiting for approval', async () => {
          const s = await callTool(front.client, 'get_run_status', { runId });
          return (s.structuredContent as { status: string }).status === 'waiting_for_approval';
        });
      } finally {
        await closeFront(front);
      }
      const svc = remote.state()!;
      await sleep(3_000);
      assert.ok(alive(svc.pid), 'an open run keeps the service up');
      await dev.stop();
      const t0 = Date.now();
      await waitFor('the service to idle out', () => !alive(svc.pid), 30_000);
      assert.ok(Date.now() - t0 < 20_000, `idled out ${Date.now() - t0} ms after Temporal went away`);
    } finally {
      await dev.stop();
    }
  });
});
