// MCP over stdin/stdout in whichever protocol era the client opens with: `server/discover`
// (2026-07-28) or `initialize` (2025-11-25 and earlier). The SDK's entry pins the era and one server
// instance per connection.
import type { JSONRPCMessage, McpServer } from '@modelcontextprotocol/server';
import { serveStdio as serveBothEras, StdioServerTransport } from '@modelcontextprotocol/server/stdio';
import { log } from '../log.js';

export interface StdioServing {
  /** Resolves when the client goes away (stdin ends). */
  closed: Promise<void>;
  close(): Promise<void>;
}

/** How long after start `afterFirstAnswer` runs anyway when the client has asked nothing yet. */
const FIRST_ANSWER_WAIT_MS = 1_000;

/**
 * `afterFirstAnswer` runs once the first answer is on stdout (or after a second of silence): work
 * that blocks the event loop, like loading Temporal's native bridge, waits until the client is served.
 */
export function serveStdio(makeServer: () => McpServer, afterFirstAnswer: () => void = () => undefined): StdioServing {
  const closed = new Promise<void>((resolve) => {
    process.stdin.once('end', () => resolve());
    process.stdin.once('close', () => resolve());
  });
  let notified = false;
  const notify = () => {
    if (notified) return;
    notified = true;
    clearTimeout(fallback);
    setImmediate(afterFirstAnswer);
  };
  const fallback = setTimeout(notify, FIRST_ANSWER_WAIT_MS);
  fallback.unref();
  const handle = serveBothEras(makeServer, {
    transport: new AnswerWatchingTransport(notify),
    onerror: (err) => log.warn('stdio: MCP error', { error: err.message }),
  });
  return { closed, close: () => handle.close() };
}

/** The stdio transport, telling when it has written its first message. */
class AnswerWatchingTransport extends StdioServerTransport {
  constructor(private readonly onSent: () => void) {
    super();
  }

  override async send(message: JSONRPCMessage): Promise<void> {
    await super.send(message);
    this.onSent();
  }
}
