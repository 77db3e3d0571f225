// Who is calling. Over HTTP with --tokens-file it is the name the caller's token maps to; over stdio,
// without a token and with the one --token it is the local user, so those setups share one principal.
import { userInfo } from 'node:os';
import { CLIENT_INFO_META_KEY, type McpServer, type ServerContext } from '@modelcontextprotocol/server';

/** What the MCP tools know about the caller of one request. */
export interface Caller {
  /** Owner of the runs this caller starts; other principals' runs are invisible to it. */
  principal: string;
  /** The MCP client's name from its initialize (e.g. "claude-code"), for the history's `by`. */
  client: string;
}

let cached: string | undefined;

/** The principal of stdio, of a token-less HTTP server and of the single `--token`. */
export function localPrincipal(): string {
  if (cached === undefined) {
    try {
      cached = userInfo().username || 'local';
    } catch {
      cached = 'local';
    }
  }
  return cached;
}

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
  const info = (ctx.mcpReq.envelope as Record<string, unknown> | undefined)?.[CLIENT_INFO_META_KEY];
  const name = typeof info === 'object' && info !== null ? (info as { name?: unknown }).name : undefined;
  return typeof name === 'string' ? name : undefined;
}
