// `subscriptions/listen` (2026-07-28) for what this server itself watches: task ids (the tasks
// extension's notifications/tasks) and run:// resources (notifications/resources/updated). The SDK's
// listen routers know neither, so a listen naming `taskIds` or `resourceSubscriptions` is served here,
// over stdio and HTTP alike. The acknowledgement lists what was honored (the caller's own tasks and
// runs); then each change of a watched run is sent, stamped with the subscription id, until the
// listener goes away. One watcher per run serves every listener (see ../runWatch.ts).
import { PROTOCOL_VERSION_META_KEY, SUBSCRIPTION_ID_META_KEY, type JSONRPCMessage, type RequestId } from '@modelcontextprotocol/server';
import type { RunStatus } from '../../shared/contract.js';
import { declaresForms, declaresTasks, envelopeCapabilities, TASKS_EXTENSION } from '../clientCapabilities.js';
import type { Caller } from '../principal.js';
import { parseRunUri } from '../resources/index.js';
import type { Runs } from '../runs.js';
import { watchersFor } from '../runWatch.js';
import { UnknownRunError } from '../toolResult.js';
import { modernDetailedTaskOf } from '../tasks/taskView.js';

const MAX_IDS = 100;

export interface ListenRequest {
  id: RequestId;
  params: { notifications: { taskIds?: unknown; resourceSubscriptions?: unknown }; _meta?: unknown };
}

/** A 2026-07-28 subscriptions/listen naming tasks or resources (the SDK serves every other). */
export function isRunListen(message: unknown): message is ListenRequest {
  if (typeof message !== 'object' || message === null) return false;
  const m = message as { method?: unknown; id?: unknown; params?: { notifications?: { taskIds?: unknown; resourceSubscriptions?: unknown } } };
  const filter = m.params?.notifications;
  return (
    m.method === 'subscriptions/listen' &&
    (typeof m.id === 'string' || typeof m.id === 'number') &&
    (Array.isArray(filter?.taskIds) || Array.isArray(filter?.resourceSubscriptions))
  );
}

export interface RunListenOptions {
  runs: Runs;
  caller: Caller;
  inlineApprovals: boolean;
  /** Writes one message to the listener (the SSE stream, or stdout). */
  send: (message: JSONRPCMessage) => Promise<void> | void;
}

/** One subscription; `close()` stops it (listener gone, cancelled, or the server stopping). */
export interface RunSubscription {
  readonly done: Promise<void>;
  close(): void;
}

export function listenToRuns(request: ListenRequest, options: RunListenOptions): RunSubscription {
  let closed = false;
  let wake: (() => void) | undefined;
  const ended = new Promise<void>((resolve) => (wake = resolve));
  const close = () => {
    closed = true;
    wake?.();
  };
  const done = serve(request, options, () => closed, ended).catch(() => undefined);
  return { done, close };
}

function validIds(value: unknown): value is string[] {
  return Array.isArray(value) && value.length <= MAX_IDS && value.every((id) => typeof id === 'string' && id.length > 0 && id.length <= 300);
}

async function serve(request: ListenRequest, options: RunListenOptions, isClosed: () => boolean, ended: Promise<void>): Promise<void> {
  const { runs, caller, send } = options;
  const meta = request.params._meta as Record<string, unknown> | undefined;
  const caps = envelopeCapabilities(meta);
  const filter = request.params.notifications;
  const fail = (code: number, message: string, data?: unknown) =>
    send({ jsonrpc: '2.0', id: request.id, error: { code, message, ...(data !== undefined ? { data } : {}) } });
  if (meta?.[PROTOCOL_VERSION_META_KEY] === undefined) return fail(-32602, 'Invalid _meta envelope: subscriptions/listen is a 2026-07-28 request');
  if (filter.taskIds !== undefined && !declaresTasks(caps)) {
    return fail(-32021, 'Missing required client capability', { requiredCapabilities: { extensions: { [TASKS_EXTENSION]: {} } } });
  }
  for (const [name, ids] of [['taskIds', filter.taskIds], ['resourceSubscriptions', filter.resourceSubscriptions]] as const) {
    if (ids !== undefined && !validIds(ids)) return fail(-32602, `Invalid params: ${name} must be at most ${MAX_IDS} strings`);
  }
  const taskIds = [...new Set((filter.taskIds as string[] | undefined) ?? [])];
  const uris = [...new Set((filter.resourceSubscriptions as string[] | undefined) ?? [])];

  // Only the caller's own runs are acknowledged; an unknown or foreign id is left out, not revealed.
  const owned = new Map<string, boolean>();
  const owns = async (runId: string): Promise<boolean> => {
    if (!owned.has(runId)) {
      try {
        await runs.status(runId, caller);
        owned.set(runId, true);
      } catch (err) {
        owned.set(runId, !(err instanceof UnknownRunError)); // Temporal busy: watch it anyway
      }
    }
    return owned.get(runId)!;
  };
  const honoredTasks: string[] = [];
  for (const id of taskIds) if (await owns(id)) honoredTasks.push(id);
  const honoredUris: string[] = [];
  for (const uri of uris) {
    const parsed = parseRunUri(uri);
    if (parsed && (await owns(parsed.runId))) honoredUris.push(uri);
  }

  const stamp = { [SUBSCRIPTION_ID_META_KEY]: request.id };
  const notifications = {
    ...(filter.taskIds !== undefined ? { taskIds: honoredTasks } : {}),
    ...(filter.resourceSubscriptions !== undefined ? { resourceSubscriptions: honoredUris } : {}),
  };
  await send({ jsonrpc: '2.0', method: 'notifications/subscriptions/acknowledged', params: { notifications, _meta: stamp } });
  // The listen request's own result is the graceful close: at once when nothing was honored.
  const finish = () => send({ jsonrpc: '2.0', id: request.id, result: { resultType: 'complete', _meta: stamp } });
  if (honoredTasks.length + honoredUris.length === 0) return finish();

  const forms = options.inlineApprovals && declaresForms(caps);
  const watchers = watchersFor(runs);
  const stops: (() => void)[] = [];
  const deliver = (message: JSONRPCMessage) => {
    if (!isClosed()) void Promise.resolve(send(message)).catch(() => undefined);
  };
  for (const taskId of honoredTasks) {
    stops.push(
      watchers.watch(taskId, caller, (run: RunStatus) => {
        void runs.retentionMs().then((retention) =>
          deliver({ jsonrpc: '2.0', method: 'notifications/tasks', params: { ...modernDetailedTaskOf(run, forms, retention, Date.now()), _meta: stamp } }),
        );
      }),
    );
  }
  for (const uri of honoredUris) {
    stops.push(
      watchers.watch(parseRunUri(uri)!.runId, caller, () => deliver({ jsonrpc: '2.0', method: 'notifications/resources/updated', params: { uri, _meta: stamp } }), false),
    );
  }
  // Until the listener goes (close) or the server stops (its shutdown ends the waits).
  const stopping = new Promise<void>((resolve) => {
    const timer = setInterval(() => {
      if (runs.isStopping()) {
        clearInterval(timer);
        resolve();
      }
    }, 500);
    timer.unref();
    void ended.then(() => clearInterval(timer));
  });
  await Promise.race([ended, stopping]);
  for (const stop of stops) stop();
  if (!isClosed()) await finish(); // the server is stopping
}
