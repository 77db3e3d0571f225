// notifications/tasks/status (2025-11-25): the session that created a task hears of each change of
// its status. Only the listening lives here, per connection, on the process's one watcher per run;
// the status itself is read from the run, so a lost listener loses notifications, never the task.
import type { McpServer } from '@modelcontextprotocol/server';
import type { Caller } from '../principal.js';
import type { Runs } from '../runs.js';
import { watchersFor } from '../runWatch.js';
import { isTerminalTask, legacyTaskOf } from './taskView.js';

/** A connection watches at most this many open tasks; more still work, by polling. */
const MAX_WATCHED_PER_CONNECTION = 100;

const watched = new WeakMap<McpServer, Set<string>>();

export function notifyTaskChanges(server: McpServer, runs: Runs, caller: Caller, taskId: string, formsReachClient: boolean, firstSent: string): void {
  let ids = watched.get(server);
  if (!ids) watched.set(server, (ids = new Set()));
  if (ids.has(taskId) || ids.size >= MAX_WATCHED_PER_CONNECTION) return;
  ids.add(taskId);
  const set = ids;
  let last = firstSent;
  const stop = watchersFor(runs).watch(taskId, caller, (run) => {
    if (!server.isConnected()) return end();
    void runs.retentionMs().then(async (retention) => {
      const task = legacyTaskOf(run, formsReachClient, retention, Date.now());
      const seen = changeKeyOf(task);
      if (seen !== last) {
        last = seen;
        await server.server.notification({ method: 'notifications/tasks/status', params: task }).catch(end);
      }
      if (isTerminalTask(task.status)) end();
    });
  });
  function end(): void {
    stop();
    set.delete(taskId);
  }
}

/** The change key of a task view, as the notifier compares them. */
export function changeKeyOf(task: { status: string; statusMessage: string }): string {
  return `${task.status}\n${task.statusMessage}`;
}
