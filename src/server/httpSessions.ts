// The legacy (session) side of Streamable HTTP: one MCP server and transport per session, owned by
// the principal that initialized it, capped in number (the least recently used idle one is evicted)
// and closed when idle. Map order is recency order: a used session moves to the end.
import { randomUUID } from 'node:crypto';
import type { McpServer } from '@modelcontextprotocol/server';
import { NodeStreamableHTTPServerTransport } from '@modelcontextprotocol/node';
import { log } from '../log.js';

export interface Session {
  id: string;
  principal: string;
  transport: NodeStreamableHTTPServerTransport;
  server: McpServer;
  lastUsed: number;
  /** Requests in flight other than the standalone GET stream, which may stay open for hours. */
  busy: number;
}

export class HttpSessions {
  private readonly sessions = new Map<string, Session>();
  private readonly sweep: NodeJS.Timeout;
  private capLogged = false;

  constructor(
    private readonly makeServer: () => McpServer,
    private readonly maxSessions: number,
    private readonly idleMs: number,
  ) {
    this.sweep = setInterval(() => {
      const now = Date.now();
      for (const s of this.sessions.values()) if (this.expired(s, now)) this.close(s, 'idle');
    }, Math.min(60_000, Math.max(500, idleMs / 4)));
    this.sweep.unref();
  }

  get size(): number {
    return this.sessions.size;
  }

  /** The live session with this id if `principal` owns it; another's answers as unknown. */
  find(id: string, principal: string): Session | undefined {
    const session = this.sessions.get(id);
    if (session && this.expired(session, Date.now())) {
      this.close(session, 'idle');
      return undefined;
    }
    return session?.principal === principal ? session : undefined;
  }

  /** A new session for `principal`, or undefined when every session is busy at the cap. */
  async create(principal: string): Promise<Session | undefined> {
    if (this.sessions.size >= this.maxSessions && !this.evictOne()) return undefined;
    // The id is fixed up front so the session counts against the cap, busy (never evicted) while it connects.
    const id = randomUUID();
    const transport = new NodeStreamableHTTPServerTransport({ sessionIdGenerator: () => id });
    const session: Session = { id, principal, transport, server: this.makeServer(), lastUsed: Date.now(), busy: 1 };
    transport.onclose = () => {
      if (this.sessions.get(id) === session) this.sessions.delete(id);
    };
    this.sessions.set(id, session);
    try {
      await session.server.connect(transport);
    } catch (err) {
      this.close(session, 'connect failed');
      throw err;
    } finally {
      session.busy--;
    }
    return session;
  }

  /** Marks a session used now and, unless `streaming`, busy until `done` fires. */
  use(session: Session, streaming: boolean, onDone: (listener: () => void) => void): void {
    this.sessions.delete(session.id);
    this.sessions.set(session.id, session);
    session.lastUsed = Date.now();
    if (!streaming) session.busy++;
    onDone(() => {
      if (!streaming) session.busy--;
      session.lastUsed = Date.now();
    });
  }

  close(session: Session, why: string): void {
    if (this.sessions.get(session.id) === session) this.sessions.delete(session.id);
    log.debug('MCP session closed', { why, principal: session.principal });
    session.server.close().catch(() => undefined);
  }

  closeAll(): void {
    clearInterval(this.sweep);
    for (const s of [...this.sessions.values()]) this.close(s, 'shutdown');
  }

  private expired(s: Session, now: number): boolean {
    return s.busy === 0 && now - s.lastUsed > this.idleMs;
  }

  private evictOne(): boolean {
    if (!this.capLogged) log.warn('--max-sessions reached: new sessions now evict the least recently used idle ones', { maxSessions: this.maxSessions });
    this.capLogged = true;
    for (const s of this.sessions.values()) {
      if (s.busy === 0) {
        log.debug('MCP session evicted', { principal: s.principal, idleSeconds: Math.round((Date.now() - s.lastUsed) / 1000) });
        this.close(s, 'evicted');
        return true;
      }
    }
    return false;
  }
}
