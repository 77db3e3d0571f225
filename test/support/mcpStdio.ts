/** Spawns the built CLI over stdio and connects a real MCP SDK client through a tiny Transport. */
import assert from 'node:assert/strict';
import { spawn, type ChildProcess } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { Client, ReadBuffer, serializeMessage } from '@modelcontextprotocol/client';
import type { Transport, CallToolResult, ClientOptions, Implementation, JSONRPCMessage, Tool } from '@modelcontextprotocol/client';
import AjvModule from 'ajv';
import addFormatsModule from 'ajv-formats';

const here = path.dirname(fileURLToPath(import.meta.url));
/** dist/test/support → repo root */
export const repoRoot = path.resolve(here, '..', '..', '..');
export const cliPath = path.join(repoRoot, 'dist', 'src', 'cli.js');

/** A Transport over a child process's stdin/stdout that also records every raw stdout line. */
export class ChildStdioTransport implements Transport {
  onclose?: () => void;
  onerror?: (error: Error) => void;
  onmessage?: <T extends JSONRPCMessage>(message: T) => void;

  private readonly readBuffer = new ReadBuffer();
  private readonly lines: string[] = [];
  private partial = '';
  private closed = false;

  constructor(private readonly child: ChildProcess) {}

  async start(): Promise<void> {
    const stdout = this.child.stdout;
    if (!stdout) throw new Error('child has no stdout pipe');
    stdout.on('data', (chunk: Buffer) => {
      this.recordLines(chunk);
      this.readBuffer.append(chunk);
      for (;;) {
        let msg: JSONRPCMessage | null;
        try {
          msg = this.readBuffer.readMessage();
        } catch (err) {
          this.onerror?.(err instanceof Error ? err : new Error(String(err)));
          continue;
        }
        if (msg === null) break;
        this.onmessage?.(msg);
      }
    });
    stdout.on('error', (err) => this.onerror?.(err));
    this.child.stdin?.on('error', (err) => this.onerror?.(err));
    this.child.once('close', () => this.markClosed());
  }

  private recordLines(chunk: Buffer): void {
    this.partial += chunk.toString('utf8');
    let idx: number;
    while ((idx = this.partial.indexOf('\n')) !== -1) {
      this.lines.push(this.partial.slice(0, idx).replace(/\r$/, ''));
      this.partial = this.partial.slice(idx + 1);
    }
  }

  /** Every complete stdout line so far (plus a trailing partial line, if any). */
  stdoutLines(): string[] {
    return this.partial.length > 0 ? [...this.lines, this.partial] : [...this.lines];
  }

  async send(message: JSONRPCMessage): Promise<void> {
    const stdin = this.child.stdin;
    if (!stdin || stdin.destroyed || this.closed) throw new Error('transport closed');
    const data = serializeMessage(message);
    await new Promise<void>((resolve, reject) => {
      stdin.write(data, (err) => (err ? reject(err) : resolve()));
    });
  }

  async close(): Promise<void> {
    this.child.stdin?.end();
    this.markClosed();
  }

  private markClosed(): void {
    if (this.closed) return;
    this.closed = true;
    this.readBuffer.clear();
    this.onclose?.();
  }
}

export interface SpawnedServer {
  client: Client;
  child: ChildProcess;
  transport: ChildStdioTransport;
  stdoutLines(): string[];
  stderr(): string;
  logFile: string;
  close(): Promise<void>;
}

export interface SpawnOptions {
  args?: string[];
  /** An executable to run instead of `node dist/src/cli.js` (e.g. an installed bin). */
  command?: string;
  env: Record<string, string | undefined>;
  /** Whether to inherit process.env (default true; the given env wins). */
  inheritEnv?: boolean;
  /** The client's name and version (default durable-agent-mcp-tests 0.0.0). */
  clientInfo?: Implementation;
  /** The client's options, e.g. `versionNegotiation` to pin an era (default: capabilities {} and the legacy era). */
  clientOptions?: ClientOptions;
}

function waitExit(child: ChildProcess, ms: number): Promise<boolean> {
  if (child.exitCode !== null || child.signalCode !== null) return Promise.resolve(true);
  return new Promise((resolve) => {
    const t = setTimeout(() => {
      child.off('exit', onExit);
      resolve(false);
    }, ms);
    const onExit = () => {
      clearTimeout(t);
      resolve(true);
    };
    child.once('exit', onExit);
  });
}

export async function spawnServer(opts: SpawnOptions): Promise<SpawnedServer> {
  const env: Record<string, string> = {};
  if (opts.inheritEnv !== false) {
    for (const [k, v] of Object.entries(process.env)) if (v !== undefined) env[k] = v;
  }
  for (const [k, v] of Object.entries(opts.env)) {
    if (v === undefined) delete env[k];
    else env[k] = v;
  }
  const logFile = path.join(os.tmpdir(), `da-mcp-stderr-${process.pid}-${Date.now()}.log`);
  const [command, baseArgs] = opts.command ? [opts.command, []] : [process.execPath, [cliPath]];
  const child = spawn(command, [...baseArgs, ...(opts.args ?? [])], {
    cwd: repoRoot,
    env,
    stdio: ['pipe', 'pipe', 'pipe'],
  });
  let stderrText = '';
  const logStream = fs.createWriteStream(logFile);
  child.stderr?.on('data', (chunk: Buffer) => {
    const s = chunk.toString('utf8');
    stderrText += s;
    logStream.write(s);
  });
  child.once('exit', () => logStream.end());

  const transport = new ChildStdioTransport(child);
  const client = new Client(opts.clientInfo ?? { name: 'durable-agent-mcp-tests', version: '0.0.0' }, opts.clientOptions ?? { capabilities: {} });
  const spawnError = new Promise<never>((_, reject) => {
    child.once('error', (err) => reject(err));
    child.once('exit', (code, signal) =>
      reject(new Error(`server exited before connecting (code=${code} signal=${signal}); stderr:\n${stderrText.slice(-4000)}`)),
    );
  });
  spawnError.catch(() => undefined);
  try {
    await Promise.race([client.connect(transport, { timeout: 60_000 }), spawnError]);
  } catch (err) {
    child.kill('SIGKILL');
    throw err;
  }

  return {
    client,
    child,
    transport,
    logFile,
    stdoutLines: () => transport.stdoutLines(),
    stderr: () => stderrText,
    async close() {
      try {
        await client.close();
      } catch {
        /* ignore */
      }
      child.stdin?.end();
      if (await waitExit(child, 5_000)) return;
      child.kill('SIGTERM');
      if (await waitExit(child, 5_000)) return;
      child.kill('SIGKILL');
      await waitExit(child, 5_000);
    },
  };
}

export async function callTool(client: Client, name: string, args: Record<string, unknown>, timeoutMs = 60_000): Promise<CallToolResult> {
  const result = await client.callTool({ name, arguments: args }, { timeout: timeoutMs });
  return result as CallToolResult;
}

/** The text of a result's first text content item ('' when there is none). */
export function resultText(result: CallToolResult): string {
  return (result.content ?? [])
    .map((c) => (c.type === 'text' ? c.text : ''))
    .join('\n');
}

const Ajv: any = (AjvModule as any).default ?? AjvModule;
const addFormats: any = (addFormatsModule as any).default ?? addFormatsModule;
let ajvInstance: any;
const validatorCache = new WeakMap<object, any>();

function ajv(): any {
  if (!ajvInstance) {
    ajvInstance = new Ajv({ strict: false, validateFormats: true, validateSchema: false, allErrors: true });
    addFormats(ajvInstance);
  }
  return ajvInstance;
}

/**
 * Asserts a successful result's structuredContent validates against the tool's outputSchema and that
 * content[0].text parses to the same JSON.
 */
export function validateStructured(tool: Tool | undefined, result: CallToolResult): void {
  assert.ok(tool, 'tool definition missing (from listTools)');
  assert.notEqual(result.isError, true, `expected success from ${tool.name}: ${resultText(result)}`);
  assert.ok(tool.outputSchema, `tool ${tool.name} has no outputSchema`);
  assert.ok(result.structuredContent && typeof result.structuredContent === 'object', `${tool.name}: no structuredContent`);
  let validate = validatorCache.get(tool.outputSchema);
  if (!validate) {
    const schema: Record<string, unknown> = { ...(tool.outputSchema as Record<string, unknown>) };
    delete schema.$schema;
    validate = ajv().compile(schema);
    validatorCache.set(tool.outputSchema, validate);
  }
  const ok = validate(result.structuredContent);
  assert.ok(ok, `${tool.name}: structuredContent does not match outputSchema: ${JSON.stringify(validate.errors)}\n${JSON.stringify(result.structuredContent)}`);
  const first = result.content?.[0];
  assert.ok(first && first.type === 'text', `${tool.name}: content[0] is not text`);
  let parsed: unknown;
  assert.doesNotThrow(() => {
    parsed = JSON.parse((first as { text: string }).text);
  }, `${tool.name}: content[0].text is not JSON`);
  assert.deepEqual(parsed, result.structuredContent, `${tool.name}: content[0].text differs from structuredContent`);
}
