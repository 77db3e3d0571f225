// The 2026-07-28 tasks extension (io.modelcontextprotocol/tasks, SEP-2663): tasks/get, tasks/update
// and tasks/cancel, for requests that declared the extension.
import { ProtocolError, ProtocolErrorCode, type McpServer, type ServerContext } from '@modelcontextprotocol/server';
import { applyAnswers } from '../approvals/answers.js';
import { callerOf } from '../caller.js';
import { acceptsForms, declaresTasksExtension, TASKS_EXTENSION } from '../clientCapabilities.js';
import type { Runs } from '../runs.js';
import { forTask, runOfTask } from './lookup.js';
import { modernDetailedTaskOf } from './taskView.js';

/** Answers to more approvals than this in one tasks/update are refused (a run rarely has two). */
const MAX_ANSWERS = 50;

export interface TaskMethodOptions {
  inlineApprovals: boolean;
}

export function requireTasksExtension(server: McpServer, ctx: ServerContext): void {
  if (!declaresTasksExtension(server, ctx)) {
    throw new ProtocolError(ProtocolErrorCode.MissingRequiredClientCapability, 'Missing required client capability', {
      requiredCapabilities: { extensions: { [TASKS_EXTENSION]: {} } },
    });
  }
}

export function formsReachClient(server: McpServer, ctx: ServerContext, options: TaskMethodOptions): boolean {
  return options.inlineApprovals && acceptsForms(server, ctx);
}

/** tasks/get: the task with its input requests, result or error, as the run stands now. */
export async function getModernTask(server: McpServer, runs: Runs, ctx: ServerContext, taskId: string, options: TaskMethodOptions) {
  requireTasksExtension(server, ctx);
  const forms = formsReachClient(server, ctx, options);
  const run = await runOfTask(runs, taskId, callerOf(server, ctx));
  return modernDetailedTaskOf(run, forms, await runs.retentionMs(), Date.now());
}

/** tasks/update: decisions for pending approvals; answers for anything else change nothing. */
export async function updateModernTask(server: McpServer, runs: Runs, ctx: ServerContext, taskId: string, inputResponses: Record<string, unknown>) {
  requireTasksExtension(server, ctx);
  const caller = callerOf(server, ctx);
  await runOfTask(runs, taskId, caller); // unknown task → -32602 before anything else
  const keys = Object.keys(inputResponses);
  if (keys.length > MAX_ANSWERS) {
    throw new ProtocolError(ProtocolErrorCode.InvalidParams, `inputResponses has ${keys.length} entries; at most ${MAX_ANSWERS} are taken at once.`);
  }
  const outcomes = await forTask(taskId, () => applyAnswers(runs, taskId, inputResponses, caller, 'tasks/update'));
  // The ack is empty by the extension; what became of each answer rides in _meta for clients that look.
  return { _meta: { 'durable-agent-mcp/answers': outcomes } };
}

/** tasks/cancel: cancels the run (acknowledged at once if it has already closed). */
export async function cancelModernTask(server: McpServer, runs: Runs, ctx: ServerContext, taskId: string) {
  requireTasksExtension(server, ctx);
  await forTask(taskId, () => runs.cancel(taskId, callerOf(server, ctx)));
  return {};
}
