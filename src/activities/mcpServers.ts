// Other MCP servers as agent tools: the worker's `--mcp-config` (Claude Desktop's `mcpServers`
// shape), one pooled client connection per server, re-established after a server dies, closed on
// shutdown. A server that will not start is reported, never fatal: the others keep working.
import { readFileSync } from 'node:fs';
import { Client, StreamableHTTPClientTransport, type CallToolResult, type Tool } from '@modelcontextprotocol/client';
import { getDefaultEnvironment, StdioClientTransport } from '@modelcontextprotocol/client/stdio';
import { z } from 'zod';
import { log } from '../log.js';
import type { AgentToolSpec } from '../shared/agentTools.js';

/** Separates server and tool in the names the model sees: `<server>__<tool>`. */
export const MCP_TOOL_SEPARATOR = '__';
/** Where a call's idempotency key travels in the `tools/call` request. */
export const IDEMPOTENCY_META_KEY = 'durable-agent-mcp/idempotencyKey';

const CONNECT_TIMEOUT_MS = 30_000;
/** A server that failed to start is not tried again for this long, so runs do not queue behind it. */
const RETRY_FAILED_AFTER_MS = 30_000;
/** OpenAI-compatible endpoints accept function names of this shape only. */
const FUNCTION_NAME = /^[A-Za-z0-9_-]{1,64}$/;

const toolKinds = z
  .record(z.string(), z.enum(['read', 'write']))
  .optional()
  .describe('per tool name ("*" for all): "read" runs without approval under approval "writes", "write" waits');

const stdioServer = z.strictObject({
  type: z.literal('stdio').optional(),
  command: z.string().min(1),
  args: z.array(z.string()).default([]),
  env: z.record(z.string(), z.string()).optional(),
  cwd: z.string().optional(),
  kinds: toolKinds,
});
const httpServer = z.strictObject({
  type: z.enum(['http', 'streamable-http']).optional(),
  url: z.url({ protocol: /^https?$/ }),
  headers: z.record(z.string(), z.string()).optional(),
  kinds: toolKinds,
});
const serverName = z.string().regex(/^[A-Za-z0-9-]+(_[A-Za-z0-9-]+)*$/, 'server names use letters, digits, "-" and single "_"');
export const McpConfigSchema = z.strictObject({ mcpServers: z.record(serverName, z.union([stdioServer, httpServer])) });
export type McpServerConfig = z.infer<typeof stdioServer> | z.infer<typeof httpServer>;

export interface McpToolInfo {
  /** `<server>__<tool>` */
  name: string;
  server: string;
  tool: string;
  readOnly: boolean;
  spec: AgentToolSpec;
}

export interface ServerProblem {
  server: string;
  error: string;
}

/** Reads and checks the config file; a problem is returned, not thrown, so the worker keeps going. */
export function loadMcpConfig(file: string): { servers: Record<string, McpServerConfig>; problem?: ServerProblem } {
  let raw: unknown;
  try {
    raw = JSON.parse(readFileSync(file, 'utf8'));
  } catch (err) {
    return { servers: {}, problem: { server: '(config)', error: `cannot read the MCP config ${file}: ${message(err)}` } };
  }
  const parsed = McpConfigSchema.safeParse(raw);
  if (!parsed.success) {
    const issue = parsed.error.issues[0]!;
    const where = issue.path.length ? issue.path.join('.') : 'the file';
    return { servers: {}, problem: { server: '(config)', error: `the MCP config ${file} is invalid at ${where}: ${issue.message}` } };
  }
  return { servers: parsed.data.mcpServers };
}

export class McpPool {
  private readonly clients = new Map<string, Promise<Client>>();
  private readonly tools = new Map<string, McpToolInfo[]>();
  private readonly failures = new Map<string, { at: number; error: Error }>();
  private closed = false;

  constructor(
    private readonly servers: Record<string, McpServerConfig>,
    private readonly configProblem?: ServerProblem,
  ) {}

  static fromFile(file: string | undefined): McpPool {
    if (!file) return new McpPool({});
    const { servers, problem } = loadMcpConfig(file);
    if (problem) log.error(problem.error);
    return new McpPool(servers, problem);
  }

  get serverNames(): string[] {
    return Object.keys(this.servers);
  }

  /** Connects every server and lists its tools; reports the ones that fail on stderr. */
  async startAll(): Promise<void> {
    const { unavailable } = await this.listTools();
    for (const p of unavailable) log.error('MCP server unavailable', { server: p.server, error: p.error });
  }

  /** Every tool of every reachable server, and what is wrong with the others. */
  async listTools(): Promise<{ tools: McpToolInfo[]; unavailable: ServerProblem[] }> {
    const tools: McpToolInfo[] = [];
    const unavailable: ServerProblem[] = this.configProblem ? [this.configProblem] : [];
    await Promise.all(
      this.serverNames.map(async (server) => {
        try {
          tools.push(...(await this.serverTools(server, true)));
        } catch (err) {
          unavailable.push({ server, error: message(err) });
        }
      }),
    );
    tools.sort((a, b) => a.name.localeCompare(b.name));
    return { tools, unavailable };
  }

  /** A tool by its model-facing name, from the cache (listing the server again if needed). */
  async findTool(name: string): Promise<McpToolInfo | undefined> {
    const server = name.split(MCP_TOOL_SEPARATOR)[0] ?? '';
    if (!Object.hasOwn(this.servers, server)) return undefined;
    return (await this.serverTools(server, false)).find((t) => t.name === name);
  }

  async call(info: McpToolInfo, args: Record<string, unknown>, idempotencyKey: string, signal: AbortSignal, onProgress: () => void): Promise<CallToolResult> {
    const client = await this.client(info.server);
    try {
      return (await client.callTool(
        { name: info.tool, arguments: args, _meta: { [IDEMPOTENCY_META_KEY]: idempotencyKey } },
        { signal, timeout: 4 * 60_000, resetTimeoutOnProgress: true, onprogress: onProgress },
      ));
    } catch (err) {
      // A dead or confused connection is dropped, so the retry starts a fresh one.
      if (!signal.aborted) this.drop(info.server);
      throw err;
    }
  }

  async close(): Promise<void> {
    this.closed = true;
    const all = [...this.clients.values()];
    this.clients.clear();
    await Promise.all(all.map(async (c) => (await c.catch(() => undefined))?.close().catch(() => undefined)));
  }

  private async serverTools(server: string, refresh: boolean): Promise<McpToolInfo[]> {
    const cached = this.tools.get(server);
    if (cached && !refresh) return cached;
    const client = await this.client(server);
    const listed: Tool[] = [];
    let cursor: string | undefined;
    do {
      const page = await client.listTools(cursor ? { cursor } : {});
      listed.push(...page.tools);
      cursor = page.nextCursor;
    } while (cursor);
    const kinds = this.servers[server]?.kinds ?? {};
    const infos = listed.flatMap((t): McpToolInfo[] => {
      const name = `${server}${MCP_TOOL_SEPARATOR}${t.name}`;
      if (!FUNCTION_NAME.test(name)) {
        log.warn('MCP tool skipped: its name is not a valid function name for the model', { tool: name });
        return [];
      }
      const kind = kinds[t.name] ?? kinds['*'];
      const readOnly = kind ? kind === 'read' : t.annotations?.readOnlyHint === true;
      const description = [t.title, t.description].filter(Boolean).join(': ') || `${t.name} from the ${server} MCP server`;
      return [{ name, server, tool: t.name, readOnly, spec: { name, description, parameters: t.inputSchema } }];
    });
    this.tools.set(server, infos);
    return infos;
  }

  private client(server: string): Promise<Client> {
    if (this.closed) return Promise.reject(new Error('the worker is shutting down'));
    const existing = this.clients.get(server);
    if (existing) return existing;
    const config = Object.hasOwn(this.servers, server) ? this.servers[server] : undefined;
    if (!config) return Promise.reject(new Error(`no MCP server "${server}" in the config`));
    const failed = this.failures.get(server);
    if (failed && Date.now() - failed.at < RETRY_FAILED_AFTER_MS) return Promise.reject(failed.error);
    const connecting = this.connect(server, config);
    connecting.then(
      () => this.failures.delete(server),
      (error: Error) => this.failures.set(server, { at: Date.now(), error }),
    );
    this.clients.set(server, connecting);
    const forget = () => {
      if (this.clients.get(server) !== connecting) return; // a newer connection took its place
      this.clients.delete(server);
      this.tools.delete(server);
    };
    connecting.then(
      (client) => {
        client.onclose = () => {
          if (this.clients.get(server) === connecting) log.warn('MCP server connection closed; the next call reconnects', { server });
          forget();
        };
      },
      forget,
    );
    return connecting;
  }

  private async connect(server: string, config: McpServerConfig): Promise<Client> {
    const client = new Client({ name: 'durable-agent-mcp-worker', version: '1' });
    const transport =
      'command' in config
        ? new StdioClientTransport({
            command: config.command,
            args: config.args,
            env: { ...getDefaultEnvironment(), ...config.env },
            ...(config.cwd ? { cwd: config.cwd } : {}),
            // The server's stderr joins ours (never stdout, which may carry JSON-RPC).
            stderr: 'inherit',
          })
        : new StreamableHTTPClientTransport(new URL(config.url), { requestInit: { headers: config.headers ?? {} } });
    let timer: NodeJS.Timeout | undefined;
    try {
      await Promise.race([
        client.connect(transport),
        new Promise<never>((_, reject) => {
          timer = setTimeout(() => reject(new Error(`did not answer initialize within ${CONNECT_TIMEOUT_MS / 1000} s`)), CONNECT_TIMEOUT_MS);
        }),
      ]);
    } catch (err) {
      await client.close().catch(() => undefined);
      throw new Error(`cannot start MCP server "${server}": ${message(err)}`);
    } finally {
      clearTimeout(timer);
    }
    log.info('MCP server connected', { server });
    return client;
  }

  private drop(server: string): void {
    const current = this.clients.get(server);
    this.clients.delete(server);
    this.tools.delete(server);
    current?.then((c) => c.close()).catch(() => undefined);
  }
}

function message(err: unknown): string {
  return err instanceof Error ? err.message : String(err);
}
