// Who is calling. Over HTTP with --tokens-file it is the name the caller's token maps to; over stdio,
// without a token and with the one --token it is the local user, so those setups share one principal.
import { userInfo } from 'node:os';

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
