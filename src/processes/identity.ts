// Who a recorded pid really is. A pid in a state file may belong to an unrelated process after a
// reboot or pid reuse, so nothing here trusts or signals a pid it cannot prove is the one recorded.
import { execFileSync } from 'node:child_process';
import { existsSync, readdirSync, readFileSync } from 'node:fs';
import { homedir } from 'node:os';
import { basename, isAbsolute, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';

const hasProc = existsSync('/proc/self/stat');

/** This program's entry point (dist/src/cli.js). */
export const PROGRAM_PATH = fileURLToPath(new URL('../cli.js', import.meta.url));

export function isAlive(pid: number): boolean {
  if (!Number.isInteger(pid) || pid <= 0 || !signalable(pid)) return false;
  // A zombie (killed, not yet reaped) answers signal 0 but is gone.
  return procStat(pid)?.[0] !== 'Z';
}

/** Fields of /proc/<pid>/stat from field 3 (state) on; undefined where there is no /proc. */
function procStat(pid: number): string[] | undefined {
  if (!hasProc) return undefined;
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    // Field 2 (comm) may hold spaces and parentheses: split after the last ')'.
    return stat.slice(stat.lastIndexOf(')') + 2).split(' ');
  } catch {
    return undefined;
  }
}

export const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

// A record carries the process's start id (boot id + start time); a recorded pid is trusted only
// while it still has that start id.

let bootId: string | undefined;

/** Identifies one process for the lifetime of the machine: undefined if it is gone (or unknowable here). */
export function processStartId(pid: number): string | undefined {
  if (!Number.isInteger(pid) || pid <= 0) return undefined;
  if (hasProc) {
    try {
      bootId ??= readFileSync('/proc/sys/kernel/random/boot_id', 'utf8').trim();
    } catch {
      return undefined;
    }
    const fields = procStat(pid);
    const startTime = fields?.[19]; // field 22
    return startTime && fields[0] !== 'Z' ? `${bootId}:${startTime}` : undefined;
  }
  return psField(pid, 'lstart=');
}

/** The process's argv: exact on Linux; elsewhere `ps` output split on spaces (no argument boundaries). */
export function commandLine(pid: number): string[] | undefined {
  if (hasProc) {
    try {
      const raw = readFileSync(`/proc/${pid}/cmdline`, 'utf8');
      return raw ? raw.replace(/\0$/, '').split('\0') : undefined;
    } catch {
      return undefined;
    }
  }
  return psField(pid, 'command=')?.split(/\s+/);
}

function psField(pid: number, field: string): string | undefined {
  if (process.platform === 'win32') return undefined;
  try {
    const out = execFileSync('ps', ['-o', field, '-p', String(pid)], { encoding: 'utf8', stdio: ['ignore', 'pipe', 'ignore'] }).trim();
    return out || undefined;
  } catch {
    return undefined;
  }
}

/** Live processes (other than this one) whose argv satisfies `match`. */
export function findProcesses(match: (argv: readonly string[], pid: number) => boolean): number[] {
  const found: number[] = [];
  const consider = (pid: number, argv: string[] | undefined) => {
    if (pid !== process.pid && argv && argv.length > 0 && match(argv, pid)) found.push(pid);
  };
  if (hasProc) {
    for (const name of readdirSync('/proc')) {
      if (/^\d+$/.test(name)) consider(Number(name), commandLine(Number(name)));
    }
    return found;
  }
  if (process.platform === 'win32') return found;
  try {
    const out = execFileSync('ps', ['-axo', 'pid=,command='], { encoding: 'utf8', stdio: ['ignore', 'pipe', 'ignore'], maxBuffer: 64 * 1024 * 1024 });
    for (const line of out.split('\n')) {
      const m = /^\s*(\d+)\s+(.*)$/.exec(line);
      if (m) consider(Number(m[1]), m[2]!.split(/\s+/));
    }
  } catch {
    /* no ps */
  }
  return found;
}

/** The value of `--flag value` or `--flag=value` in argv. */
export function argValue(argv: readonly string[], flag: string): string | undefined {
  for (let i = 0; i < argv.length; i++) {
    const arg = argv[i]!;
    if (arg === flag) return argv[i + 1];
    if (arg.startsWith(`${flag}=`)) return arg.slice(flag.length + 1);
  }
  return undefined;
}

/** Index of the argument naming this program (any install: cli.js under dist/src, or the bin). */
export function programIndex(argv: readonly string[]): number {
  return argv.findIndex((a) => a === PROGRAM_PATH || /[\\/]dist[\\/]src[\\/]cli\.js$/.test(a) || basename(a) === 'durable-agent-mcp');
}

/** A path as a process gave it, made comparable with a resolved data dir (undefined if relative). */
export function samePath(given: string | undefined, path: string): boolean {
  if (!given) return false;
  const expanded = given.replace(/^~(?=$|[\\/])/, homedir());
  return isAbsolute(expanded) && resolve(expanded) === path;
}

/** What a state file records about a process. */
export interface ProcessRecord {
  pid: number;
  /** processStartId at the time of writing; absent in records written by older versions. */
  startId?: string;
}

export function recordOf(pid: number): ProcessRecord {
  const startId = processStartId(pid);
  return startId ? { pid, startId } : { pid };
}

/**
 * Whether a recorded process is alive and provably the one recorded: same start id, or (for a
 * record without one) an argv that `legacyArgv` recognises. Anything else is a stale record
 * whose pid must never be signalled.
 */
export function isOurs(record: Partial<ProcessRecord> | undefined, legacyArgv?: (argv: readonly string[], pid: number) => boolean): boolean {
  const pid = record?.pid;
  if (typeof pid !== 'number' || !isAlive(pid)) return false;
  const now = processStartId(pid);
  if (now === undefined) return !identityKnowable() && isAlive(pid);
  if (typeof record?.startId === 'string') return record.startId === now;
  const argv = commandLine(pid);
  return Boolean(argv && legacyArgv?.(argv, pid));
}

let knowable: boolean | undefined;

/** Where neither /proc nor ps tells who a pid is (Windows), liveness is all there is to go on. */
function identityKnowable(): boolean {
  knowable ??= processStartId(process.pid) !== undefined;
  return knowable;
}

/** A record read back from a file: JSON `{ pid, startId }`, or the bare pid older versions wrote. */
export function parseRecord(text: string): ProcessRecord | undefined {
  const trimmed = text.trim();
  if (/^\d+$/.test(trimmed)) return { pid: Number(trimmed) };
  try {
    const value = JSON.parse(trimmed) as { pid?: unknown; startId?: unknown };
    if (typeof value.pid !== 'number' || !Number.isInteger(value.pid)) return undefined;
    return typeof value.startId === 'string' ? { pid: value.pid, startId: value.startId } : { pid: value.pid };
  } catch {
    return undefined;
  }
}

export async function stopProcess(pid: number, graceMs = 5_000): Promise<void> {
  try {
    process.kill(pid, 'SIGTERM');
  } catch {
    return;
  }
  const deadline = Date.now() + graceMs;
  while (Date.now() < deadline && isAlive(pid)) await sleep(100);
  if (isAlive(pid)) {
    try {
      process.kill(pid, 'SIGKILL');
    } catch {
      /* already gone */
    }
  }
  // Dead; give its parent (or init) a moment to reap it, so that callers find the pid gone.
  const reaped = Date.now() + 2_000;
  while (Date.now() < reaped && signalable(pid)) await sleep(50);
}

function signalable(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (err) {
    return (err as NodeJS.ErrnoException).code === 'EPERM';
  }
}
