// The start lock of a data dir: serialises starting the dev server or the service.
import { mkdirSync, rmSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { isOurs, parseRecord, recordOf, sleep } from './identity.js';
import { readFileOr, writeFileAtomic } from './stateFiles.js';

const LOCK_TIMEOUT_MS = 120_000;
/** A lock dir without a holder (its creator died before writing one) is stale after this. */
const LOCK_ORPHAN_MS = 10_000;

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

function safeMtime(path: string): number {
  try {
    return statSync(path).mtimeMs;
  } catch {
    return 0;
  }
}
