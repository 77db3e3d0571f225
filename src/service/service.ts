// The background service of a data dir: the embedded Temporal dev server (when TEMPORAL_ADDRESS is
// unset) and a worker, detached from the stdio fronts that clients spawn, so runs keep going after
// the client quits. One per data dir (a lock, not a race); it stops itself after an idle period
// with no open run and no front attached.
import { spawn } from 'node:child_process';
import { closeSync, existsSync, mkdirSync, openSync, readdirSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { Client, Connection } from '@temporalio/client';
import { toArgs, type Config, type ParsedArgs } from '../config.js';
import { log } from '../log.js';
import { isAlive, readFileOr, sleep, stopProcess, withLock } from '../processes.js';
import { WORKFLOW_TYPE } from '../shared/contract.js';
import { connectTemporal } from '../temporal/connect.js';
import { devServerStateFile } from '../temporal/devServer.js';
import { startWorker } from '../worker/worker.js';

export interface ServiceState {
  pid: number;
  temporalAddress: string;
  namespace: string;
  uiUrl?: string;
  taskQueue: string;
  worker: boolean;
  startedAt: string;
}

const START_TIMEOUT_MS = 120_000;
const LOG_CAP_BYTES = 5 * 1024 * 1024;
const LOG_KEEP_BYTES = 1024 * 1024;
const OPEN_RUNS_QUERY = `WorkflowType = '${WORKFLOW_TYPE}' AND ExecutionStatus = 'Running'`;
const cliPath = fileURLToPath(new URL('../cli.js', import.meta.url));

export function servicePaths(dataDir: string) {
  const dir = join(dataDir, 'service');
  return { dir, state: join(dir, 'service.json'), log: join(dir, 'service.log'), lock: join(dir, 'start.lock'), fronts: join(dir, 'fronts') };
}

/** The running service's state, or undefined when none runs. */
export function readServiceState(dataDir: string): ServiceState | undefined {
  try {
    const state = JSON.parse(readFileSync(servicePaths(dataDir).state, 'utf8')) as ServiceState;
    return isAlive(state.pid) ? state : undefined;
  } catch {
    return undefined;
  }
}

/** Starts the data dir's service unless one runs; many callers at once end up with one service. */
export async function ensureService(config: Config, values: ParsedArgs['values']): Promise<ServiceState> {
  const p = servicePaths(config.dataDir);
  mkdirSync(p.fronts, { recursive: true });
  return withLock(p.lock, async () => {
    const running = readServiceState(config.dataDir);
    if (running) return running;
    rmSync(p.state, { force: true });
    capLog(p.log);
    const out = openSync(p.log, 'a');
    const child = spawn(process.execPath, [cliPath, 'service', 'run', ...toArgs(values)], {
      detached: true,
      stdio: ['ignore', out, out],
      env: process.env,
    });
    closeSync(out);
    child.unref();
    const exit: { code: number | null } = { code: null };
    child.once('exit', (code) => (exit.code = code ?? -1));
    const deadline = Date.now() + START_TIMEOUT_MS;
    while (Date.now() < deadline) {
      const state = readServiceState(config.dataDir);
      if (state && state.pid === child.pid) return state;
      if (exit.code !== null) {
        throw new Error(`the background service exited with code ${exit.code} during start-up; see ${p.log}`);
      }
      await sleep(100);
    }
    throw new Error(`the background service did not start within ${START_TIMEOUT_MS / 1000} s; see ${p.log}`);
  });
}

/** A front announces itself so the service does not idle out under it. */
export function registerFront(dataDir: string): () => void {
  const p = servicePaths(dataDir);
  mkdirSync(p.fronts, { recursive: true });
  const file = join(p.fronts, String(process.pid));
  writeFileSync(file, new Date().toISOString());
  return () => rmSync(file, { force: true });
}

function liveFronts(dataDir: string): number {
  const dir = servicePaths(dataDir).fronts;
  if (!existsSync(dir)) return 0;
  let alive = 0;
  for (const name of readdirSync(dir)) {
    if (isAlive(Number(name))) alive++;
    else rmSync(join(dir, name), { force: true });
  }
  return alive;
}

/** Keeps the log file under its cap: the service writes through an O_APPEND fd, so rewriting is safe. */
function capLog(file: string): void {
  try {
    if (statSync(file).size <= LOG_CAP_BYTES) return;
    const tail = readFileSync(file).subarray(-LOG_KEEP_BYTES);
    writeFileSync(file, Buffer.concat([Buffer.from('[older log lines dropped]\n'), tail]));
  } catch {
    /* no log yet */
  }
}

/** `service run`: the service body, in the foreground of its own detached process. */
export async function runService(config: Config): Promise<void> {
  const p = servicePaths(config.dataDir);
  const temporal = await connectTemporal(config);
  const worker = config.noWorker ? undefined : await startWorker(config, temporal);
  const state: ServiceState = {
    pid: process.pid,
    temporalAddress: temporal.address,
    namespace: temporal.namespace,
    ...(temporal.devServer ? { uiUrl: temporal.devServer.state.uiUrl } : {}),
    taskQueue: config.taskQueue,
    worker: Boolean(worker),
    startedAt: new Date().toISOString(),
  };
  writeFileSync(p.state, JSON.stringify(state, null, 2));
  log.info('background service ready', { ...state });

  let stopping = false;
  const stop = new Promise<string>((resolve) => {
    process.once('SIGTERM', () => resolve('SIGTERM'));
    process.once('SIGINT', () => resolve('SIGINT'));
  });
  const idle = (async () => {
    const idleMs = config.idleShutdownSeconds * 1000;
    const checkEvery = Math.min(5_000, Math.max(250, idleMs / 4));
    let idleSince: number | undefined;
    while (!stopping) {
      await sleep(checkEvery);
      capLog(p.log);
      const busy = liveFronts(config.dataDir) > 0 || (await openRuns(temporal.client).catch(() => 1)) > 0;
      if (busy) idleSince = undefined;
      else idleSince ??= Date.now();
      if (idleSince !== undefined && Date.now() - idleSince >= idleMs) return 'idle';
    }
    return 'stopping';
  })();
  const reason = await Promise.race([stop, idle, worker ? worker.done.then(() => 'worker stopped') : new Promise<string>(() => undefined)]);
  stopping = true;
  log.info('background service stopping', { reason });
  const force = setTimeout(() => process.exit(1), 20_000);
  force.unref();
  await worker?.shutdown().catch(() => undefined);
  await temporal.close().catch(() => undefined);
  if (readServiceState(config.dataDir)?.pid === process.pid) rmSync(p.state, { force: true });
  process.exit(0);
}

async function openRuns(client: Client): Promise<number> {
  const { count } = await client.workflow.count(OPEN_RUNS_QUERY);
  return count;
}

/** `service stop`: stops the service and leaves no process of the data dir behind. */
export async function stopService(dataDir: string): Promise<boolean> {
  const state = readServiceState(dataDir);
  if (state) await stopProcess(state.pid, 20_000);
  // A service killed hard leaves its dev server running; stop it unless another process uses it.
  try {
    const dev = JSON.parse(readFileSync(devServerStateFile(dataDir), 'utf8')) as { pid: number };
    const usersDir = join(dataDir, 'temporal', 'users');
    const users = existsSync(usersDir) ? readdirSync(usersDir).map(Number).filter((pid) => isAlive(pid)) : [];
    if (isAlive(dev.pid) && users.length === 0) await stopProcess(dev.pid);
  } catch {
    /* no embedded dev server */
  }
  rmSync(servicePaths(dataDir).state, { force: true });
  return Boolean(state);
}

/** `service status`: what a person needs to see, as plain lines. */
export async function describeService(dataDir: string): Promise<{ running: boolean; text: string }> {
  const state = readServiceState(dataDir);
  if (!state) return { running: false, text: `service: not running (data dir ${dataDir})\n` };
  let runs = 'unknown';
  try {
    const connection = await Connection.connect({ address: state.temporalAddress, connectTimeout: 3_000 });
    try {
      runs = String(await openRuns(new Client({ connection, namespace: state.namespace })));
    } finally {
      await connection.close();
    }
  } catch (err) {
    runs = `unknown (${err instanceof Error ? err.message : String(err)})`;
  }
  const uptime = Math.round((Date.now() - Date.parse(state.startedAt)) / 1000);
  const lines = [
    `service: running (pid ${state.pid}, up ${uptime} s, data dir ${dataDir})`,
    `temporal: ${state.temporalAddress} (namespace ${state.namespace})`,
    ...(state.uiUrl ? [`web ui: ${state.uiUrl}`] : []),
    `worker: ${state.worker ? `polling task queue ${state.taskQueue}` : 'none (--no-worker)'}`,
    `open runs: ${runs}`,
    `log: ${servicePaths(dataDir).log}`,
  ];
  return { running: true, text: `${lines.join('\n')}\n` };
}

export function serviceLogTail(dataDir: string, lines = 100): string {
  const file = servicePaths(dataDir).log;
  const text = readFileOr(file, '');
  return `log file: ${file}\n${text.split('\n').slice(-lines - 1).join('\n')}`;
}
