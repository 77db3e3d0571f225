// 2025-11-25 resources/subscribe and resources/unsubscribe (the SDK registers neither): a session
// subscribes to run:// URIs of its own runs and hears notifications/resources/updated when the run
// changes (step, status, a new pending approval, close). One watcher per run, shared process-wide.
import { ProtocolError, ProtocolErrorCode, type McpServer } from '@modelcontextprotocol/server';
import { callerOf } from '../caller.js';
import type { Runs } from '../runs.js';
import { watchersFor } from '../runWatch.js';
import { asResourceError, parseRunUri } from './runResources.js';

/** A session subscribes to at most this many URIs. */
const MAX_SUBSCRIPTIONS = 200;

export function registerResourceSubscriptions(server: McpServer, runs: Runs): void {
  const subscribed = new Map<string, () => void>();
  const unsubscribeAll = () => {
    for (const stop of subscribed.values()) stop();
    subscribed.clear();
  };
  const previousOnClose = server.server.onclose;
  server.server.onclose = () => {
    unsubscribeAll();
    previousOnClose?.();
  };

  server.server.setRequestHandler('resources/subscribe', async (request, ctx) => {
    const uri = request.params.uri;
    const parsed = parseRunUri(uri);
    if (!parsed) throw new ProtocolError(ProtocolErrorCode.InvalidParams, `Only run://{runId} and run://{runId}/history can be subscribed to, not ${uri}`);
    if (subscribed.has(uri)) return {};
    if (subscribed.size >= MAX_SUBSCRIPTIONS) {
      throw new ProtocolError(ProtocolErrorCode.InvalidParams, `A session may subscribe to at most ${MAX_SUBSCRIPTIONS} resources; unsubscribe from some first`);
    }
    const caller = callerOf(server, ctx);
    await asResourceError(uri, () => runs.status(parsed.runId, caller)); // only the caller's own runs
    const stop = watchersFor(runs).watch(
      parsed.runId,
      caller,
      () => void server.server.sendResourceUpdated({ uri }).catch(() => undefined),
      false,
    );
    subscribed.set(uri, stop);
    return {};
  });

  server.server.setRequestHandler('resources/unsubscribe', (request) => {
    subscribed.get(request.params.uri)?.();
    subscribed.delete(request.params.uri);
    return {};
  });
}
