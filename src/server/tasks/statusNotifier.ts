// notifications/tasks/status (2025-11-25): the session that created a task hears of each change of
// its status. Only the sending lives here, per connection; the status itself is read from the run,
// so a lost notifier loses notifications, never the task.
import type { McpServer } from '@modelcontextprotocol/server';
import { log } from '../../log.js';
import type { Caller } from '../principal.js';
import type { Runs } from '../runs.js';
import { UnknownRunError } from '../toolResult.js';
import { isTerminalTask, legacyTaskOf, TASK_POLL_INTERVAL_MS } from './taskView.js';

/** A connection watches at most this many open tasks; more still work, by polling. */
const MAX_WATCHED_PER_CONNECTION = 100;

const watched = new WeakMap<McpServer, Set<string>>();

export function notifyTaskChanges(server: McpServer, runs: Runs, caller: Caller, taskId: string, formsReachClient: boolean, firstSent: string): void {
  let ids = watched.get(server);
  if (!ids) watched.set(server, (ids = new Set()));
  if (ids.has(taskId) || ids.size >= MAX_WATCHED_PER_CONNECTION) return;
  ids.add(taskId);
  const set = ids;
  void watch(server, runs, caller, taskId, formsReachClient, firstSent).finally(() => set.delete(taskId));
}

async function watch(server: McpServer, runs: Runs, caller: Caller, taskId: string, forms: boolean, firstSent: string): Promise<void> {
  let last = firstSent;
  for (;;) {
    await sleep(TASK_POLL_INTERVAL_MS);
    if (runs.isStopping() || !server.isConnected()) return;
    let task;
    try {
      task = legacyTaskOf(await runs.status(taskId, caller), forms, await runs.retentionMs(), Date.now());
    } catch (err) {
      if (err instanceof UnknownRunError) return;
      continue; // Temporal busy or restarting: the next look may do
    }
    const seen = `${task.status}\n${task.statusMessage}`;
    if (seen !== last) {
      last = seen;
      try {
        await server.server.notification({ method: 'notifications/tasks/status', params: task });
      } catch (err) {
        log.debug('tasks: status notification not sent', { taskId, error: err instanceof Error ? err.message : String(err) });
        return; // the connection is gone
      }
    }
    if (isTerminalTask(task.status)) return;
  }
}

/** The change key of a task view, as the notifier compares them. */
export function changeKeyOf(task: { status: string; statusMessage: string }): string {
  return `${task.status}\n${task.statusMessage}`;
}

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms).unref());
