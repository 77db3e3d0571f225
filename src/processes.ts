// Process helpers shared by the embedded dev server and the background service: who a recorded
// pid really is, private state files, and the start lock.
import { execFileSync } from 'node:child_process';
import {
  chmodSync,
  closeSync,
  existsSync,
  fsyncSync,
  mkdirSync,
  openSync,
  readdirSync,
  readFileSync,
  renameSync,
  rmSync,
  statSync,
  unlinkSync,
  writeSync,
} from 'node:fs';
import { homedir } from 'node:os';
import { basename, dirname, isAbsolute, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';

const LOCK_TIMEOUT_MS = 120_000;
/** A lock dir without a holder (its creator died before writing one) is stale after this. */
const LOCK_ORPHAN_MS = 10_000;

const hasProc = existsSync('/proc/self/stat');

/** This program's entry point (dist/src/cli.js). */
export const PROGRAM_PATH = fileURLToPath(new URL('./cli.js', import.meta.url));

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

// ---- Process identity -------------------------------------------------------------------------
// A pid in a state file may belong to an unrelated process after a reboot or pid reuse. A record
// therefore carries the process's start id (boot id + start time), and nothing signals or trusts a
// recorded pid unless it still has that start id.

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

/**
 * Registry directories (fronts/, users/): one file per process, named by its pid, holding its
 * record. Returns the live verified pids and removes every stale entry.
 */
export function liveRegistered(dir: string, legacyArgv?: (argv: readonly string[], pid: number) => boolean): number[] {
  if (!existsSync(dir)) return [];
  const alive: number[] = [];
  for (const name of readdirSync(dir)) {
    if (name.endsWith('.tmp')) continue;
    const pid = Number(name);
    // Older versions wrote a timestamp, not a record: the file name is then the only pid.
    const record = parseRecord(readFileOr(join(dir, name), '')) ?? { pid };
    if (record.pid === pid && isOurs(record, legacyArgv)) alive.push(pid);
    else rmSync(join(dir, name), { force: true });
  }
  return alive;
}

/** Records this process in a registry directory; returns the function that removes it. */
export function register(dir: string): () => void {
  const file = join(dir, String(process.pid));
  writeFileAtomic(file, JSON.stringify(recordOf(process.pid)));
  return () => rmSync(file, { force: true });
}

// ---- Private files --------------------------------------------------------------------------
// The data dir holds run history (SQLite), logs and state: only its owner may read it.

/** Creates `dir` (and missing parents) 0700, and tightens it if it exists and is ours. */
export function privateDir(dir: string, tightenExisting = true): void {
  mkdirSync(dir, { recursive: true, mode: 0o700 });
  if (!tightenExisting) return;
  try {
    const st = statSync(dir);
    // Never tighten a directory someone else owns or a shared sticky one like /tmp.
    const owned = typeof process.getuid !== 'function' || st.uid === process.getuid();
    if (owned && (st.mode & 0o1000) === 0 && (st.mode & 0o077) !== 0) chmodSync(dir, st.mode & 0o700);
  } catch {
    /* best effort */
  }
}

/** The data dir and the directories the service and the dev server keep their state in. */
export function prepareDataDir(dataDir: string): void {
  // A data dir pointed at a home or root directory is the user's business, not ours to chmod.
  privateDir(dataDir, dataDir !== homedir() && dirname(dataDir) !== dataDir);
  privateDir(join(dataDir, 'temporal'));
  privateDir(join(dataDir, 'service'));
}

/** Writes a whole file or nothing (temp file + rename), readable by the owner only. */
export function writeFileAtomic(file: string, data: string): void {
  const tmp = join(dirname(file), `.${basename(file)}.${process.pid}.${Math.random().toString(36).slice(2)}.tmp`);
  const fd = openSync(tmp, 'wx', 0o600);
  try {
    writeSync(fd, data);
    fsyncSync(fd);
  } finally {
    closeSync(fd);
  }
  try {
    renameSync(tmp, file);
  } catch (err) {
    try {
      unlinkSync(tmp);
    } catch {
      /* already gone */
    }
    throw err;
  }
}

/** Opens a log file for appending, owner-only (older versions created it world-readable). */
export function openPrivateLog(file: string): number {
  const fd = openSync(file, 'a', 0o600);
  try {
    chmodSync(file, 0o600);
  } catch {
    /* not ours to change */
  }
  return fd;
}

export function readFileOr(file: string, fallback: string): string {
  try {
    return readFileSync(file, 'utf8');
  } catch {
    return fallback;
  }
}

function safeMtime(path: string): number {
  try {
    return statSync(path).mtimeMs;
  } catch {
    return 0;
  }
}

// ---- Start lock -------------------------------------------------------------------------------

/**
 * Runs `fn` holding a lock directory. A holder counts only while it is alive and provably the
 * process that took the lock; a lock left by a dead process, or naming a pid now used by some
 * other process, is taken over at once.
 */
export async function withLock<T>(lockDir: string, fn: () => Promise<T>): Promise<T> {
  const deadline = Date.now() + LOCK_TIMEOUT_MS;
  const pidFile = join(lockDir, 'pid');
  for (;;) {
    try {
      mkdirSync(lockDir, { mode: 0o700 });
      writeFileAtomic(pidFile, JSON.stringify(recordOf(process.pid)));
      break;
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code !== 'EEXIST') throw err;
      const content = readFileOr(pidFile, '');
      const holder = parseRecord(content);
      const stale = holder ? !isOurs(holder) : Date.now() - safeMtime(lockDir) > LOCK_ORPHAN_MS;
      if (stale) {
        takeOverStaleLock(lockDir, content);
        continue;
      }
      if (Date.now() > deadline) throw new Error(`timed out waiting for the lock ${lockDir} (held by pid ${holder?.pid ?? '?'})`);
      await sleep(100);
    }
  }
  try {
    return await fn();
  } finally {
    rmSync(lockDir, { recursive: true, force: true });
  }
}

/**
 * Removes a stale lock, unless another process took it over since we judged it stale (two
 * processes seeing the same stale lock must not both end up holding a fresh one).
 */
function takeOverStaleLock(lockDir: string, judged: string): void {
  const guard = `${lockDir}.takeover`;
  try {
    mkdirSync(guard, { mode: 0o700 });
  } catch {
    if (Date.now() - safeMtime(guard) > LOCK_ORPHAN_MS) rmSync(guard, { recursive: true, force: true });
    return;
  }
  try {
    if (readFileOr(join(lockDir, 'pid'), '') === judged) rmSync(lockDir, { recursive: true, force: true });
  } finally {
    rmSync(guard, { recursive: true, force: true });
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
