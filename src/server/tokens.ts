// Principals at the HTTP edge: which name a bearer token stands for. The one --token (and a token-less
// loopback server) is the local principal; --tokens-file adds named principals and is re-read when it
// changes (fs.watch, plus a stat on each request for file systems where watching is unreliable) and on
// SIGHUP. A bad re-read keeps the tokens in force, so a half-written file never locks everyone out.
import { createHash, timingSafeEqual } from 'node:crypto';
import fs from 'node:fs';
import path from 'node:path';
import { ConfigError } from '../config.js';
import { log } from '../log.js';
import { localPrincipal } from './principal.js';

const NAME = /^[A-Za-z0-9._@-]{1,64}$/;
const MIN_TOKEN_LENGTH = 16;

interface Entry {
  principal: string;
  digest: Buffer;
}

const digest = (s: string): Buffer => createHash('sha256').update(s, 'utf8').digest();

/**
 * Reads and validates a tokens file (`{ "<name>": "<token>", … }`). Throws a ConfigError naming the
 * file and the principal at fault, never a token.
 */
export function readTokensFile(file: string, singleToken?: string): Entry[] {
  const fail = (why: string) => new ConfigError(`invalid --tokens-file / DURABLE_AGENT_TOKENS_FILE ${file}: ${why}`);
  let text: string;
  try {
    text = fs.readFileSync(file, 'utf8');
  } catch (err) {
    throw fail(err instanceof Error && 'code' in err && err.code === 'ENOENT' ? 'no such file' : String(err instanceof Error ? err.message : err));
  }
  let parsed: unknown;
  try {
    parsed = JSON.parse(text);
  } catch {
    throw fail('not valid JSON (expected { "<name>": "<token>", … })');
  }
  if (typeof parsed !== 'object' || parsed === null || Array.isArray(parsed)) {
    throw fail('expected a JSON object { "<name>": "<token>", … }');
  }
  const owners = new Map<string, string>();
  if (singleToken) owners.set(singleToken, '--token');
  const entries: Entry[] = [];
  for (const [principal, token] of Object.entries(parsed)) {
    if (!NAME.test(principal)) throw fail(`principal name "${principal.slice(0, 80)}" must be 1–64 characters of A-Z a-z 0-9 . _ @ -`);
    if (typeof token !== 'string') throw fail(`the token of "${principal}" must be a string`);
    if (token.length < MIN_TOKEN_LENGTH) throw fail(`the token of "${principal}" is shorter than ${MIN_TOKEN_LENGTH} characters`);
    const other = owners.get(token);
    if (other) throw fail(`"${principal}" has the same token as ${other === '--token' ? '--token' : `"${other}"`}`);
    owners.set(token, principal);
    entries.push({ principal, digest: digest(token) });
  }
  return entries;
}

export interface TokenStoreOptions {
  /** The one `--token`: the local principal. */
  token?: string;
  tokensFile?: string;
}

export class TokenStore {
  private entries: Entry[] = [];
  private readonly single: Entry | undefined;
  /** Identity of the file version last read (or last failed to read), so each change is read once. */
  private seen = '';
  private readonly watchers: fs.FSWatcher[] = [];
  private debounce: NodeJS.Timeout | undefined;
  private readonly onHup = () => this.reload('SIGHUP', true);

  /** Throws a ConfigError when the tokens file is bad (start-up). */
  constructor(private readonly options: TokenStoreOptions) {
    this.single = options.token ? { principal: localPrincipal(), digest: digest(options.token) } : undefined;
    const file = options.tokensFile;
    if (!file) return;
    this.seen = signature(file);
    this.entries = readTokensFile(file, options.token);
    // Watch the directory too: editors and secret mounts replace the file (rename, symlink swap).
    for (const target of [file, path.dirname(file)]) {
      try {
        const watcher = fs.watch(target, { persistent: false }, () => this.scheduleCheck());
        watcher.on('error', () => undefined);
        this.watchers.push(watcher);
      } catch (err) {
        log.warn('cannot watch the tokens file; it is re-read on requests and SIGHUP', { target, error: String(err) });
      }
    }
    process.on('SIGHUP', this.onHup);
  }

  /** Whether requests must carry a token. */
  get required(): boolean {
    return this.single !== undefined || this.options.tokensFile !== undefined;
  }

  /** The principal an `Authorization` header stands for, or undefined (→ 401). */
  principalFor(authorization: string | undefined): string | undefined {
    if (!this.required) return localPrincipal();
    if (this.options.tokensFile && signature(this.options.tokensFile) !== this.seen) this.reload('changed', false);
    const given = digest(/^Bearer (.+)$/i.exec(authorization ?? '')?.[1] ?? '');
    // Compare against every token, without stopping at a match, so timing says nothing about which.
    let found: string | undefined;
    for (const entry of this.single ? [this.single, ...this.entries] : this.entries) {
      if (timingSafeEqual(given, entry.digest) && found === undefined) found = entry.principal;
    }
    return found;
  }

  close(): void {
    clearTimeout(this.debounce);
    for (const w of this.watchers) w.close();
    process.off('SIGHUP', this.onHup);
  }

  private scheduleCheck(): void {
    clearTimeout(this.debounce);
    this.debounce = setTimeout(() => {
      const file = this.options.tokensFile;
      if (file && signature(file) !== this.seen) this.reload('changed', false);
    }, 50);
    this.debounce.unref();
  }

  private reload(why: 'changed' | 'SIGHUP', force: boolean): void {
    const file = this.options.tokensFile;
    if (!file) {
      if (force) log.info('SIGHUP: no --tokens-file to re-read');
      return;
    }
    const sig = signature(file);
    if (!force && sig === this.seen) return;
    this.seen = sig;
    try {
      this.entries = readTokensFile(file, this.options.token);
      log.info('tokens file re-read', { file, why, principals: this.entries.length });
    } catch (err) {
      log.error('could not re-read the tokens file; keeping the previous tokens', { why, error: err instanceof Error ? err.message : String(err) });
    }
  }
}

/** Which version of the file is there: inode, size and mtime (a stat, no read). */
function signature(file: string): string {
  try {
    const st = fs.statSync(file);
    return `${st.ino}:${st.size}:${st.mtimeMs}`;
  } catch {
    return 'missing';
  }
}
