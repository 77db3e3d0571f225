// MCP over stdin/stdout in whichever protocol era the client opens with: `server/discover`
// (2026-07-28) or `initialize` (2025-11-25 and earlier). The SDK's entry pins the era and one server
// instance per connection.
import type { McpServer } from '@modelcontextprotocol/server';
import { serveStdio as serveBothEras, StdioServerTransport } from '@modelcontextprotocol/server/stdio';
import { log } from '../log.js';

export interface StdioServing {
  /** Resolves when the client goes away (stdin ends). */
  closed: Promise<void>;
  close(): Promise<void>;
}

export function serveStdio(makeServer: () => McpServer): StdioServing {
  const closed = new Promise<void>((resolve) => {
    process.stdin.once('end', () => resolve());
    process.stdin.once('close', () => resolve());
  });
  const handle = serveBothEras(makeServer, {
    transport: new StdioServerTransport(),
    onerror: (err) => log.warn('stdio: MCP error', { error: err.message }),
  });
  return { closed, close: () => handle.close() };
}
