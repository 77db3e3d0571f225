// What the client of one request can take. A 2026-07-28 request declares its capabilities in its own
// `_meta` envelope; a 2025-11-25 connection declared them once, in initialize.
import { CLIENT_CAPABILITIES_META_KEY, type ClientCapabilities, type McpServer, type ServerContext } from '@modelcontextprotocol/server';

export const TASKS_EXTENSION = 'io.modelcontextprotocol/tasks';

/** A 2026-07-28 request carries the envelope; a 2025-11-25 one never does. */
export function isModernRequest(ctx: ServerContext): boolean {
  return ctx.mcpReq.envelope !== undefined;
}

export function clientCapabilitiesOf(server: McpServer, ctx: ServerContext): ClientCapabilities | undefined {
  if (isModernRequest(ctx)) return (ctx.mcpReq.envelope as Record<string, unknown> | undefined)?.[CLIENT_CAPABILITIES_META_KEY] as ClientCapabilities | undefined;
  return server.server.getClientCapabilities();
}

/** The request opted in to the tasks extension (2026-07-28 only; 2025-11-25 asks per call with `task`). */
export function declaresTasksExtension(server: McpServer, ctx: ServerContext): boolean {
  if (!isModernRequest(ctx)) return false;
  const extensions = (clientCapabilitiesOf(server, ctx) as { extensions?: Record<string, unknown> } | undefined)?.extensions;
  return typeof extensions === 'object' && extensions !== null && TASKS_EXTENSION in extensions;
}

/** The client renders elicitation forms: `elicitation: {}` (form implied) or `elicitation: { form: {} }`. */
export function acceptsForms(server: McpServer, ctx: ServerContext): boolean {
  const elicitation = clientCapabilitiesOf(server, ctx)?.elicitation as { form?: unknown; url?: unknown } | undefined;
  if (!elicitation || typeof elicitation !== 'object') return false;
  return elicitation.form !== undefined || elicitation.url === undefined;
}
