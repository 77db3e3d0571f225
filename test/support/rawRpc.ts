/**
 * JSON-RPC without a client library: the built CLI over raw stdio lines, and raw POSTs to /mcp whose
 * answers (JSON or SSE) are parsed into messages. For checks of the exact wire, era by era.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import http from 'node:http';
import { cliPath, repoRoot } from './mcpStdio.js';

export const MODERN = '2026-07-28';

export type RpcMessage = {
  jsonrpc: '2.0';
  id?: string | number | null;
  method?: string;
  params?: Record<string, any>;
  result?: Record<string, any>;
  error?: { code: number; message: string; data?: any };
};

/** The per-request `_meta` envelope of a 2026-07-28 request, plus any extra keys. */
export function envelope(clientName = 'raw-rpc', extra: Record<string, unknown> = {}, version = MODERN): Record<string, unknown> {
  return {
    'io.modelcontextprotocol/protocolVersion': version,
    'io.modelcontextprotocol/clientInfo': { name: clientName, version: '1.0.0' },
    'io.modelcontextprotocol/clientCapabilities': {},
    ...extra,
  };
}

/** A 2026-07-28 request: `params` with the envelope in `_meta`. */
export function modernRequest(id: string | number, method: string, params: Record<string, unknown> = {}, meta: Record<string, unknown> = envelope()): RpcMessage {
  return { jsonrpc: '2.0', id, method, params: { ...params, _meta: meta } };
}

/** The built CLI spoken to line by line, no client library in between. */
export class RawStdio {
  readonly messages: RpcMessage[] = [];
  private readonly waiters = new Map<string | number, (m: RpcMessage) => void>();
  private partial = '';
  private stderrText = '';
  private readonly exited: Promise<void>;

  private constructor(readonly child: ChildProcess) {
    child.stdout!.on('data', (chunk: Buffer) => {
      this.partial += chunk.toString('utf8');
      let idx: number;
      while ((idx = this.partial.indexOf('\n')) !== -1) {
        const line = this.partial.slice(0, idx);
        this.partial = this.partial.slice(idx + 1);
        if (line.trim() === '') continue;
        const msg = JSON.parse(line) as RpcMessage; // a non-JSON stdout line fails the test here
        this.messages.push(msg);
        const isResponse = msg.method === undefined && msg.id !== undefined && msg.id !== null;
        if (isResponse) this.waiters.get(msg.id!)?.(msg);
      }
    });
    child.stderr!.on('data', (c: Buffer) => (this.stderrText += c.toString('utf8')));
    this.exited = new Promise((resolve) => child.once('exit', () => resolve()));
  }

  static spawn(args: string[], env: Record<string, string | undefined>): RawStdio {
    const merged: Record<string, string> = {};
    for (const [k, v] of Object.entries({ ...process.env, ...env })) if (v !== undefined) merged[k] = v;
    const child = spawn(process.execPath, [cliPath, ...args], { cwd: repoRoot, env: merged, stdio: ['pipe', 'pipe', 'pipe'] });
    return new RawStdio(child);
  }

  stderr(): string {
    return this.stderrText;
  }

  send(message: RpcMessage): void {
    this.child.stdin!.write(`${JSON.stringify(message)}\n`);
  }

  /** Sends a request and resolves with its response (a result or an error). */
  request(message: RpcMessage, ms = 30_000): Promise<RpcMessage> {
    const id = message.id!;
    return new Promise((resolve, reject) => {
      const timer = setTimeout(() => {
        this.waiters.delete(id);
        reject(new Error(`no answer to ${message.method} (id ${id}) within ${ms} ms; stderr:\n${this.stderrText.slice(-3000)}`));
      }, ms);
      this.waiters.set(id, (m) => {
        clearTimeout(timer);
        this.waiters.delete(id);
        resolve(m);
      });
      this.send(message);
    });
  }

  /** Closes stdin (the spec's shutdown) and waits for the exit, killing after 5 s. */
  async close(): Promise<void> {
    if (this.child.exitCode !== null || this.child.signalCode !== null) return;
    this.child.stdin!.end();
    const killer = setTimeout(() => this.child.kill('SIGKILL'), 5_000);
    await this.exited;
    clearTimeout(killer);
  }
}

/** The JSON-RPC messages of a body: one JSON object, or the `data:` lines of an SSE stream. */
export function parseRpcBody(contentType: string, text: string): RpcMessage[] {
  if (contentType.includes('text/event-stream')) {
    return text
      .split(/\r?\n\r?\n/)
      .map((event) =>
        event
          .split(/\r?\n/)
          .filter((l) => l.startsWith('data:'))
          .map((l) => l.slice(5).trimStart())
          .join('\n'),
      )
      .filter((data) => data.length > 0)
      .map((data) => JSON.parse(data) as RpcMessage);
  }
  return text.trim() === '' ? [] : [JSON.parse(text) as RpcMessage];
}

export interface RawHttpAnswer {
  status: number;
  headers: http.IncomingHttpHeaders;
  text: string;
  messages: RpcMessage[];
}

/**
 * A raw POST (or other method) to an MCP endpoint with exactly the given headers — node:http, so the
 * Host header can be set too — read to its end.
 */
export function rawHttp(url: string, body: unknown, headers: Record<string, string>, method = 'POST'): Promise<RawHttpAnswer> {
  return new Promise((resolve, reject) => {
    const req = http.request(url, { method, headers }, (res) => {
      const chunks: Buffer[] = [];
      res.on('data', (c: Buffer) => chunks.push(c));
      res.on('end', () => {
        const text = Buffer.concat(chunks).toString('utf8');
        try {
          resolve({ status: res.statusCode ?? 0, headers: res.headers, text, messages: parseRpcBody(String(res.headers['content-type'] ?? ''), text) });
        } catch (err) {
          reject(new Error(`unparseable answer (${res.statusCode}): ${text.slice(0, 500)}: ${String(err)}`));
        }
      });
      res.on('error', reject);
    });
    req.once('error', reject);
    req.end(body === undefined ? undefined : typeof body === 'string' ? body : JSON.stringify(body));
  });
}

/**
 * The headers a 2026-07-28 request carries over Streamable HTTP: MCP-Protocol-Version, Mcp-Method and
 * (for tools/call, resources/read, prompts/get and the task methods) Mcp-Name, plus the given ones; `undefined` drops one.
 */
export function modernHeaders(message: RpcMessage, extra: Record<string, string | undefined> = {}): Record<string, string> {
  const name = message.params?.name ?? message.params?.uri ?? message.params?.taskId;
  const all: Record<string, string | undefined> = {
    'content-type': 'application/json',
    accept: 'application/json, text/event-stream',
    'mcp-protocol-version': String(message.params?._meta?.['io.modelcontextprotocol/protocolVersion'] ?? MODERN),
    'mcp-method': message.method,
    ...(typeof name === 'string' && ['tools/call', 'resources/read', 'prompts/get', 'tasks/get', 'tasks/update', 'tasks/cancel'].includes(message.method ?? '')
      ? { 'mcp-name': name }
      : {}),
    ...extra,
  };
  const out: Record<string, string> = {};
  for (const [k, v] of Object.entries(all)) if (v !== undefined) out[k] = v;
  return out;
}
