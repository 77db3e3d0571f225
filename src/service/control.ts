// The background service seen from outside: its record, starting it (one per data dir, a lock, not
// a race), fronts announcing themselves, stopping it and describing it. What fronts and the CLI need,
// without loading Temporal: a front answers its client before anything Temporal is loaded.
// A record is trusted only for a process that is provably the recorded one; service processes of
// the data dir are also found by their argv.
import { spawn } from 'node:child_process';
import { closeSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { homedir } from 'node:os';
import { join } from 'node:path';
import type { Client } from '@temporalio/client';
import { toArgs, type Config, type ParsedArgs } from '../config.js';
import { log } from '../log.js';
import { argValue, findProcesses, isOurs, PROGRAM_PATH, programIndex, samePath, sleep, stopProcess } from '../processes/identity.js';
import { liveRegistered, openPrivateLog, prepareDataDir, privateDir, readFileOr, register } from '../processes/stateFiles.js';
import { withLock } from '../processes/lock.js';
import { WORKFLOW_TYPE } from '../shared/contract.js';
import { stopUnusedDevServer } from '../temporal/devServer.js';

export interface ServiceState {
  pid: number;
  /** The process's start id (absent in records of older versions). */
  startId?: string;
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

export function servicePaths(dataDir: string) {
  const dir = join(dataDir, 'service');
  return { dir, state: join(dir, 'service.json'), log: join(dir, 'service.log'), lock: join(dir, 'start.lock'), fronts: join(dir, 'fronts') };
}

export function readRecord(dataDir: string): ServiceState | undefined {
  try {
    const state = JSON.parse(readFileSync(servicePaths(dataDir).state, 'utf8')) as Partial<ServiceState> | null;
    return typeof state?.pid === 'number' && typeof state.temporalAddress === 'string' ? (state as ServiceState) : undefined;
  } catch {
    return undefined;
  }
}

/**
 * The running service's state, or undefined when none runs (no record, an unreadable one, or one
 * naming a pid that is not that service any more). Never removes the file: the service may be
 * replacing it at this moment.
 */
export function readServiceState(dataDir: string): ServiceState | undefined {
  const state = readRecord(dataDir);
  return state && isOurs(state, (argv, pid) => isServiceOf(dataDir, argv, pid)) ? state : undefined;
}

/**
 * Whether argv is `<this program> service run` for this data dir: named by `--data-dir` (how
 * fronts start it) or, without one, by DURABLE_AGENT_HOME or HOME in its environment.
 */
function isServiceOf(dataDir: string, argv: readonly string[], pid: number): boolean {
  const i = programIndex(argv);
  if (i < 0 || argv[i + 1] !== 'service' || argv[i + 2] !== 'run') return false;
  const given = argValue(argv, '--data-dir');
  if (given !== undefined) return samePath(given, dataDir);
  const env = environOf(pid);
  if (!env) return false;
  if (env.DURABLE_AGENT_HOME) return samePath(env.DURABLE_AGENT_HOME, dataDir);
  return join(env.HOME || homedir(), '.durable-agent-mcp') === dataDir;
}

/** Another process's environment, where the OS shows it (Linux, same user). */
function environOf(pid: number): Record<string, string> | undefined {
  try {
    const env: Record<string, string> = {};
    for (const entry of readFileSync(`/proc/${pid}/environ`, 'utf8').split('\0')) {
      const eq = entry.indexOf('=');
      if (eq > 0) env[entry.slice(0, eq)] = entry.slice(eq + 1);
    }
    return env;
  } catch {
    return undefined;
  }
}

/** Live `service run` processes of this data dir, whatever the state file says. */
function serviceProcesses(dataDir: string): number[] {
  return findProcesses((argv, pid) => isServiceOf(dataDir, argv, pid));
}

/** Starts the data dir's service unless one runs; many callers at once end up with one service. */
export async function ensureService(config: Config, values: ParsedArgs['values']): Promise<ServiceState> {
  const p = servicePaths(config.dataDir);
  prepareDataDir(config.dataDir);
  privateDir(p.fronts);
  return withLock(p.lock, async () => {
    const running = readServiceState(config.dataDir);
    if (running) return running;
    // No trustworthy record: a service still running without one (its record lost or corrupted)
    // is stopped first, so there is never a second one. Its runs live in Temporal: nothing is lost.
    for (const pid of serviceProcesses(config.dataDir)) {
      log.warn('stopping a background service of this data dir that has no valid record', { pid });
      await stopProcess(pid, 20_000);
    }
    rmSync(p.state, { force: true });
    capLog(p.log);
    const out = openPrivateLog(p.log);
    // The data dir goes in argv (absolute), so the process can be recognised as this data dir's service.
    const child = spawn(process.execPath, [PROGRAM_PATH, 'service', 'run', ...toArgs({ ...values, 'data-dir': config.dataDir })], {
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
  prepareDataDir(dataDir);
  privateDir(p.fronts);
  return register(p.fronts);
}

/** Fronts provably alive (a reused pid does not keep the service up). */
export function liveFronts(dataDir: string): number {
  return liveRegistered(servicePaths(dataDir).fronts, (argv) => programIndex(argv) >= 0).length;
}

/** Keeps the log file under its cap: the service writes through an O_APPEND fd, so rewriting is safe. */
export function capLog(file: string): void {
  try {
    if (statSync(file).size <= LOG_CAP_BYTES) return;
    const tail = readFileSync(file).subarray(-LOG_KEEP_BYTES);
    writeFileSync(file, Buffer.concat([Buffer.from('[older log lines dropped]\n'), tail]), { mode: 0o600 });
  } catch {
    /* no log yet */
  }
}

/** Open runs of this task queue's agent workflow, as Temporal counts them. */
export async function openRuns(client: Client): Promise<number> {
  const { count } = await client.workflow.count(OPEN_RUNS_QUERY);
  return count;
}

/**
 * `service stop`: stops the service and leaves no process of the data dir behind, whatever its
 * state files say: the recorded service if provably it, every `service run` of this data dir, and
 * the dev server unless a live process of ours (a `--no-service` server, a worker) still uses it.
 */
export async function stopService(dataDir: string): Promise<boolean> {
  const state = readServiceState(dataDir);
  const pids = new Set(serviceProcesses(dataDir));
  if (state) pids.add(state.pid);
  await Promise.all([...pids].map((pid) => stopProcess(pid, 20_000)));
  await stopUnusedDevServer(dataDir).catch((err: unknown) =>
    log.warn('could not stop the embedded dev server', { error: err instanceof Error ? err.message : String(err) }),
  );
  rmSync(servicePaths(dataDir).state, { force: true });
  return pids.size > 0;
}

/** `service status`: what a person needs to see, as plain lines. */
export async function describeService(dataDir: string): Promise<{ running: boolean; text: string }> {
  const state = readServiceState(dataDir);
  if (!state) return { running: false, text: `service: not running (data dir ${dataDir})\n` };
  let runs = 'unknown';
  try {
    // Loaded only here: `service status` is the one command of this file that talks to Temporal.
    const { Client, Connection } = await import('@temporalio/client');
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
