// Who is calling. Over HTTP with --tokens-file it is the name the caller's token maps to; over stdio,
// without a token and with the one --token it is the local user, so those setups share one principal.
import { userInfo } from 'node:os';
import type { McpServer } from '@modelcontextprotocol/sdk/server/mcp.js';
import type { AuthInfo } from '@modelcontextprotocol/sdk/server/auth/types.js';

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

/** The caller of one tool call: the HTTP layer puts the token's principal in `authInfo.clientId`. */
export function callerOf(server: McpServer, extra: { authInfo?: AuthInfo | undefined }): Caller {
  return {
    principal: extra.authInfo?.clientId || localPrincipal(),
    client: server.server.getClientVersion()?.name ?? 'unknown client',
  };
}
