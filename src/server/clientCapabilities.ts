// What the client of one request can take. A 2026-07-28 request declares its capabilities in its own
// `_meta` envelope; a 2025-11-25 connection declared them once, in initialize.
import { CLIENT_CAPABILITIES_META_KEY, type ClientCapabilities, type McpServer, type ServerContext } from '@modelcontextprotocol/server';

export const TASKS_EXTENSION = 'io.modelcontextprotocol/tasks';

/** A 2026-07-28 request carries the envelope; a 2025-11-25 one never does. */
export function isModernRequest(ctx: ServerContext): boolean {
  return ctx.mcpReq.envelope !== undefined;
}

/** The capabilities in a 2026-07-28 request's `_meta` envelope. */
export function envelopeCapabilities(envelope: unknown): ClientCapabilities | undefined {
  const caps = typeof envelope === 'object' && envelope !== null ? (envelope as Record<string, unknown>)[CLIENT_CAPABILITIES_META_KEY] : undefined;
  return typeof caps === 'object' && caps !== null ? (caps) : undefined;
}

export function clientCapabilitiesOf(server: McpServer, ctx: ServerContext): ClientCapabilities | undefined {
  return isModernRequest(ctx) ? envelopeCapabilities(ctx.mcpReq.envelope) : server.server.getClientCapabilities();
}

/** The capabilities name the tasks extension. */
export function declaresTasks(caps: ClientCapabilities | undefined): boolean {
  const extensions = (caps as { extensions?: unknown } | undefined)?.extensions;
  return typeof extensions === 'object' && extensions !== null && TASKS_EXTENSION in extensions;
}

/** Form elicitation: `elicitation: {}` (form implied) or `elicitation: { form: {} }`. */
export function declaresForms(caps: ClientCapabilities | undefined): boolean {
  const elicitation = caps?.elicitation as { form?: unknown; url?: unknown } | undefined;
  if (!elicitation || typeof elicitation !== 'object') return false;
  return elicitation.form !== undefined || elicitation.url === undefined;
}

/** The request opted in to the tasks extension (2026-07-28 only; 2025-11-25 asks per call with `task`). */
export function declaresTasksExtension(server: McpServer, ctx: ServerContext): boolean {
  return isModernRequest(ctx) && declaresTasks(clientCapabilitiesOf(server, ctx));
}

export function acceptsForms(server: McpServer, ctx: ServerContext): boolean {
  return declaresForms(clientCapabilitiesOf(server, ctx));
}
