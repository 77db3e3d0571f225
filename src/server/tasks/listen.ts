// notifications/tasks (2026-07-28 tasks extension): a `subscriptions/listen` whose filter names
// `taskIds` is served here (the SDK's listen routers know only list and resource changes). The
// acknowledgement lists the caller's tasks among them; then each of those tasks is sent, complete as
// tasks/get would give it, whenever its status changes, until the listener goes away. Only the
// watching lives in this process: every notification is read from the run in Temporal.
import { PROTOCOL_VERSION_META_KEY, SUBSCRIPTION_ID_META_KEY, type JSONRPCMessage, type RequestId } from '@modelcontextprotocol/server';
import { declaresForms, declaresTasks, envelopeCapabilities, TASKS_EXTENSION } from '../clientCapabilities.js';
import type { Caller } from '../principal.js';
import type { Runs } from '../runs.js';
import { UnknownRunError } from '../toolResult.js';
import { isTerminalTask, modernDetailedTaskOf, TASK_POLL_INTERVAL_MS } from './taskView.js';

const MAX_TASK_IDS = 100;

export interface ListenRequest {
  id: RequestId;
  params: { notifications: { taskIds: unknown[] }; _meta?: unknown };
}

/** A 2026-07-28 subscriptions/listen asking for task notifications (the SDK serves every other). */
export function isTaskListen(message: unknown): message is ListenRequest {
  if (typeof message !== 'object' || message === null) return false;
  const m = message as { method?: unknown; id?: unknown; params?: { notifications?: { taskIds?: unknown } } };
  return m.method === 'subscriptions/listen' && (typeof m.id === 'string' || typeof m.id === 'number') && Array.isArray(m.params?.notifications?.taskIds);
}

export interface TaskListenOptions {
  runs: Runs;
  caller: Caller;
  inlineApprovals: boolean;
  /** Writes one message to the listener (the SSE stream, or stdout). */
  send: (message: JSONRPCMessage) => Promise<void> | void;
}

/** One subscription; `close()` stops it (listener gone, cancelled, or the server stopping). */
export interface TaskSubscription {
  readonly done: Promise<void>;
  close(): void;
}

export function listenToTasks(request: ListenRequest, options: TaskListenOptions): TaskSubscription {
  let closed = false;
  let wake: (() => void) | undefined;
  const close = () => {
    closed = true;
    wake?.();
  };
  const pause = (ms: number) =>
    new Promise<void>((resolve) => {
      const timer = setTimeout(resolve, ms);
      wake = () => {
        clearTimeout(timer);
        resolve();
      };
    });
  const done = serve(request, options, () => closed, pause).catch(() => undefined);
  return { done, close };
}

async function serve(request: ListenRequest, options: TaskListenOptions, isClosed: () => boolean, pause: (ms: number) => Promise<void>): Promise<void> {
  const { runs, caller, send } = options;
  const meta = request.params._meta as Record<string, unknown> | undefined;
  const caps = envelopeCapabilities(meta);
  const fail = (code: number, message: string, data?: unknown) =>
    send({ jsonrpc: '2.0', id: request.id, error: { code, message, ...(data !== undefined ? { data } : {}) } });
  if (meta?.[PROTOCOL_VERSION_META_KEY] === undefined) return fail(-32602, 'Invalid _meta envelope: subscriptions/listen is a 2026-07-28 request');
  if (!declaresTasks(caps)) {
    return fail(-32021, 'Missing required client capability', { requiredCapabilities: { extensions: { [TASKS_EXTENSION]: {} } } });
  }
  const ids = request.params.notifications.taskIds;
  if (ids.length > MAX_TASK_IDS || !ids.every((id): id is string => typeof id === 'string' && id.length > 0 && id.length <= 200)) {
    return fail(-32602, `Invalid params: taskIds must be at most ${MAX_TASK_IDS} task ids`);
  }
  const forms = options.inlineApprovals && declaresForms(caps);
  const stamp = { [SUBSCRIPTION_ID_META_KEY]: request.id };
  // Only the caller's own tasks are acknowledged; an unknown or foreign id is left out, not revealed.
  const honored: string[] = [];
  for (const id of new Set(ids)) {
    try {
      await runs.status(id, caller);
      honored.push(id);
    } catch (err) {
      if (!(err instanceof UnknownRunError)) honored.push(id); // Temporal busy: watch it anyway
    }
  }
  await send({ jsonrpc: '2.0', method: 'notifications/subscriptions/acknowledged', params: { notifications: { taskIds: honored }, _meta: stamp } });
  // The listen request's own result is the graceful close: at once when nothing was honored.
  const finish = () => send({ jsonrpc: '2.0', id: request.id, result: { resultType: 'complete', _meta: stamp } });
  if (honored.length === 0) return finish();
  const lastSent = new Map<string, string>();
  const open = new Set(honored);
  while (!isClosed() && !runs.isStopping()) {
    for (const taskId of open) {
      let task;
      try {
        task = modernDetailedTaskOf(await runs.status(taskId, caller), forms, await runs.retentionMs(), Date.now());
      } catch {
        continue; // Temporal busy or restarting: the next round may do
      }
      const key = `${task.status}\n${task.statusMessage}\n${'inputRequests' in task ? Object.keys(task.inputRequests).join(',') : ''}`;
      if (lastSent.get(taskId) !== key && !isClosed()) {
        lastSent.set(taskId, key);
        await send({ jsonrpc: '2.0', method: 'notifications/tasks', params: { ...task, _meta: stamp } });
      }
      if (isTerminalTask(task.status)) open.delete(taskId);
    }
    await pause(TASK_POLL_INTERVAL_MS);
  }
  if (!isClosed()) await finish(); // the server is stopping
}
