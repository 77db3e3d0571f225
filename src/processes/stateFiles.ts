// Private files of the data dir: it holds run history (SQLite), logs and state, so only its owner
// may read it; state files are written whole or not at all.
import { chmodSync, closeSync, existsSync, fsyncSync, mkdirSync, openSync, readdirSync, readFileSync, renameSync, rmSync, statSync, unlinkSync, writeSync } from 'node:fs';
import { homedir } from 'node:os';
import { basename, dirname, join } from 'node:path';
import { isOurs, parseRecord, recordOf } from './identity.js';

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
