// MCP over stdin/stdout in whichever protocol era the client opens with: `server/discover`
// (2026-07-28) or `initialize` (2025-11-25 and earlier). The SDK's entry pins the era and one server
// instance per connection.
import type { JSONRPCMessage, McpServer, RequestId } from '@modelcontextprotocol/server';
import { serveStdio as serveBothEras, StdioServerTransport } from '@modelcontextprotocol/server/stdio';
import { log } from '../log.js';
import { clientNameIn } from './caller.js';
import { localPrincipal } from './principal.js';
import type { Runs } from './runs.js';
import { isRunListen, listenToRuns, type RunSubscription } from './listen/index.js';

export interface StdioServing {
  /** Resolves when the client goes away (stdin ends). */
  closed: Promise<void>;
  close(): Promise<void>;
}

/** How long after start `afterFirstAnswer` runs anyway when the client has asked nothing yet. */
const FIRST_ANSWER_WAIT_MS = 1_000;

/** What listens for tasks and run resources need (left out: every listen goes to the SDK). */
export interface StdioRunListen {
  runs: Runs;
  inlineApprovals: boolean;
}

/**
 * `afterFirstAnswer` runs once the first answer is on stdout (or after a second of silence): work
 * that blocks the event loop, like loading Temporal's native bridge, waits until the client is served.
 */
export function serveStdio(
  makeServer: () => McpServer,
  afterFirstAnswer: () => void = () => undefined,
  runListen?: StdioRunListen,
): StdioServing {
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
  const transport = new AnswerWatchingTransport(notify);
  const handle = serveBothEras(makeServer, {
    transport,
    onerror: (err) => log.warn('stdio: MCP error', { error: err.message }),
  });
  const subscriptions = runListen ? interceptRunListens(transport, runListen) : new Map<RequestId, RunSubscription>();
  return {
    closed,
    close: () => {
      for (const sub of subscriptions.values()) sub.close();
      return handle.close();
    },
  };
}

/**
 * Serves `subscriptions/listen` requests that name taskIds or run:// resources, and their
 * cancellation, ahead of the SDK's entry (which reads the transport's onmessage, set before it starts
 * reading stdin).
 */
function interceptRunListens(transport: StdioServerTransport, options: StdioRunListen): Map<RequestId, RunSubscription> {
  const subscriptions = new Map<RequestId, RunSubscription>();
  const sdk = transport.onmessage;
  transport.onmessage = (message: JSONRPCMessage) => {
    if (isRunListen(message)) {
      const caller = { principal: localPrincipal(), client: clientNameIn(message.params._meta) ?? 'unknown client' };
      const sub = listenToRuns(message, { runs: options.runs, caller, inlineApprovals: options.inlineApprovals, send: (m) => transport.send(m) });
      subscriptions.set(message.id, sub);
      void sub.done.finally(() => subscriptions.delete(message.id));
      return;
    }
    const cancelled = cancelledRequestId(message);
    const sub = cancelled === undefined ? undefined : subscriptions.get(cancelled);
    if (sub && cancelled !== undefined) {
      sub.close();
      subscriptions.delete(cancelled);
      return;
    }
    sdk?.(message);
  };
  return subscriptions;
}

function cancelledRequestId(message: JSONRPCMessage): RequestId | undefined {
  if (!('method' in message) || message.method !== 'notifications/cancelled') return undefined;
  const id = (message.params as { requestId?: unknown } | undefined)?.requestId;
  return typeof id === 'string' || typeof id === 'number' ? id : undefined;
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
