// The 2025-11-25 task methods: tasks/get, tasks/result (blocks until the run closes), tasks/list
// (the caller's runs) and tasks/cancel.
import { ProtocolError, ProtocolErrorCode, RELATED_TASK_META_KEY, type McpServer, type ServerContext } from '@modelcontextprotocol/server';
import { isClosedStatus } from '../../shared/contract.js';
import { pushApprovalForms } from '../approvals/pushForms.js';
import { callerOf } from '../caller.js';
import type { Runs } from '../runs.js';
import { UserError } from '../toolResult.js';
import { forTask, runOfTask } from './lookup.js';
import { formsReachClient, type TaskMethodOptions } from './modern.js';
import { finalToolResult, isTerminalTask, legacyTaskOf, TASK_POLL_INTERVAL_MS, taskStatusOf, ttlOf } from './taskView.js';

const LIST_PAGE = 50;
/** tasks/result looks at the run this often (seconds): for its close, and for new approvals to ask. */
const RESULT_SLICE_SECONDS = 2;

export async function getLegacyTask(server: McpServer, runs: Runs, ctx: ServerContext, taskId: string, options: TaskMethodOptions) {
  const caller = callerOf(server, ctx);
  const forms = formsReachClient(server, ctx, options);
  const run = await runOfTask(runs, taskId, caller);
  if (forms && run.status === 'waiting_for_approval') pushApprovalForms(server, runs, ctx, caller, run);
  return legacyTaskOf(run, forms, await runs.retentionMs(), Date.now());
}

/** tasks/result: waits for the run to close, asking pending approvals on the way, then its final result. */
export async function legacyTaskResult(server: McpServer, runs: Runs, ctx: ServerContext, taskId: string, options: TaskMethodOptions) {
  const caller = callerOf(server, ctx);
  const forms = formsReachClient(server, ctx, options);
  for (;;) {
    const run = await forTask(taskId, () => runs.result(taskId, RESULT_SLICE_SECONDS, caller));
    if (isClosedStatus(run.status)) {
      const result = finalToolResult(run);
      return { ...result, _meta: { ...result._meta, [RELATED_TASK_META_KEY]: { taskId } } };
    }
    if (forms && run.status === 'waiting_for_approval') pushApprovalForms(server, runs, ctx, caller, run);
    if (runs.isStopping()) throw new ProtocolError(ProtocolErrorCode.InternalError, 'The server is shutting down; call tasks/result again.');
    if (ctx.mcpReq.signal.aborted) throw new ProtocolError(ProtocolErrorCode.InternalError, 'tasks/result was cancelled.');
  }
}

/** tasks/list: the caller's runs as tasks, newest first, paginated with list_runs' cursor. */
export async function listLegacyTasks(server: McpServer, runs: Runs, ctx: ServerContext, cursor: string | undefined, options: TaskMethodOptions) {
  const forms = formsReachClient(server, ctx, options);
  let page;
  try {
    page = await runs.list({ limit: LIST_PAGE, ...(cursor ? { cursor } : {}) }, callerOf(server, ctx));
  } catch (err) {
    if (err instanceof UserError) {
      const code = cursor && /cursor/.test(err.message) ? ProtocolErrorCode.InvalidParams : ProtocolErrorCode.InternalError;
      throw new ProtocolError(code, err.message);
    }
    throw err;
  }
  const retention = await runs.retentionMs();
  const now = Date.now();
  const tasks = page.runs.map((run) => ({
    taskId: run.runId,
    status: taskStatusOf(run.status, forms),
    statusMessage: run.task.slice(0, 200),
    createdAt: run.startedAt,
    lastUpdatedAt: run.closedAt ?? run.startedAt,
    ttl: ttlOf(run, retention, now),
    pollInterval: TASK_POLL_INTERVAL_MS,
  }));
  return { tasks, ...(page.nextCursor ? { nextCursor: page.nextCursor } : {}) };
}

/** tasks/cancel: cancels the run and answers the task as it then stands; a closed task is an error. */
export async function cancelLegacyTask(server: McpServer, runs: Runs, ctx: ServerContext, taskId: string, options: TaskMethodOptions) {
  const caller = callerOf(server, ctx);
  const forms = formsReachClient(server, ctx, options);
  const before = await runOfTask(runs, taskId, caller);
  const status = taskStatusOf(before.status, forms);
  if (isTerminalTask(status)) {
    throw new ProtocolError(ProtocolErrorCode.InvalidParams, `Task ${taskId} is already ${status}; it cannot be cancelled.`);
  }
  await forTask(taskId, () => runs.cancel(taskId, caller));
  const after = await runOfTask(runs, taskId, caller);
  return legacyTaskOf(after, forms, await runs.retentionMs(), Date.now());
}
