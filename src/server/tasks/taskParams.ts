// A 2025-11-25 client asks for a task per call, with `params.task` on tools/call. The SDK hands a tool
// handler only its arguments, so the tools/call dispatch is wrapped once per server to note which
// in-flight requests asked (by request id, which is unique among a connection's in-flight requests).
import { ProtocolError, ProtocolErrorCode, type McpServer, type RequestId, type ServerContext } from '@modelcontextprotocol/server';

/** What a 2025-11-25 client put in `params.task` (a ttl it would like; we keep runs as long as Temporal does). */
export interface TaskParam {
  ttl?: number;
}

type ToolsCallHandler = (request: { params: { name?: unknown; task?: unknown } }, ctx: ServerContext) => Promise<unknown>;
/** `_getRequestHandler` is the SDK's protected accessor for a stored handler chain (see the test that pins it). */
type HandlerStore = { _getRequestHandler?: (method: string) => ToolsCallHandler | undefined };

const asked = new WeakMap<McpServer, Map<RequestId, TaskParam>>();

/**
 * Call after every tool is registered: wraps the McpServer's own tools/call handler. `taskTools` may
 * run as tasks (`execution.taskSupport: "optional"`); asking it of any other is -32601, as 2025-11-25 says.
 */
export function noteTaskParams(server: McpServer, taskTools: ReadonlySet<string>): void {
  const inner = (server.server as unknown as HandlerStore)._getRequestHandler?.('tools/call');
  if (!inner) throw new Error('tasks: the MCP SDK no longer exposes its tools/call handler, so task-augmented calls cannot be read');
  const pending = new Map<RequestId, TaskParam>();
  asked.set(server, pending);
  server.server.setRequestHandler('tools/call', async (request, ctx) => {
    const task = (request.params as { task?: unknown }).task;
    if (task === undefined || task === null || typeof task !== 'object') return inner(request, ctx) as never;
    const name = String(request.params.name);
    if (!taskTools.has(name)) {
      throw new ProtocolError(ProtocolErrorCode.MethodNotFound, `${name} does not run as a task (its execution.taskSupport is forbidden); call it without params.task`);
    }
    const ttl = (task as { ttl?: unknown }).ttl;
    pending.set(ctx.mcpReq.id, typeof ttl === 'number' ? { ttl } : {});
    try {
      return (await inner(request, ctx)) as never;
    } finally {
      pending.delete(ctx.mcpReq.id);
    }
  });
}

/** The `task` of the tools/call being handled, when a 2025-11-25 client asked for one. */
export function requestedTask(server: McpServer, ctx: ServerContext): TaskParam | undefined {
  return asked.get(server)?.get(ctx.mcpReq.id);
}
