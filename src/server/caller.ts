// Who is calling one tool: the principal (see principal.ts) and the MCP client's name.
import { CLIENT_INFO_META_KEY, type McpServer, type ServerContext } from '@modelcontextprotocol/server';
import { localPrincipal, type Caller } from './principal.js';

/**
 * The caller of one tool call: the HTTP layer puts the token's principal in `authInfo.clientId`; the
 * client's name comes from the request's envelope (2026-07-28) or its initialize (2025-11-25).
 */
export function callerOf(server: McpServer, ctx: ServerContext): Caller {
  return {
    principal: ctx.http?.authInfo?.clientId || localPrincipal(),
    client: envelopeClientName(ctx) ?? server.server.getClientVersion()?.name ?? 'unknown client',
  };
}

/** clientInfo.name from a 2026-07-28 request's `_meta` envelope (the SDK types the envelope loosely). */
function envelopeClientName(ctx: ServerContext): string | undefined {
  return clientNameIn(ctx.mcpReq.envelope);
}

/** clientInfo.name in a 2026-07-28 `_meta` envelope, for requests served outside a tool handler. */
export function clientNameIn(envelope: unknown): string | undefined {
  const info = typeof envelope === 'object' && envelope !== null ? (envelope as Record<string, unknown>)[CLIENT_INFO_META_KEY] : undefined;
  const name = typeof info === 'object' && info !== null ? (info as { name?: unknown }).name : undefined;
  return typeof name === 'string' ? name.slice(0, 100) : undefined;
}
