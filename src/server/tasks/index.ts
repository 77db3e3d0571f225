// Runs as MCP tasks, in both shapes: the 2026-07-28 extension and the 2025-11-25 methods. A task id is
// a runId; each method reads or changes the run through the run service, so nothing about a task
// lives only in this process. The era of each request picks the shape.
import { ProtocolError, ProtocolErrorCode, type McpServer } from '@modelcontextprotocol/server';
import { z } from 'zod';
import { isModernRequest } from '../clientCapabilities.js';
import type { Runs } from '../runs.js';
import { cancelLegacyTask, getLegacyTask, legacyTaskResult, listLegacyTasks } from './legacy.js';
import { cancelModernTask, getModernTask, updateModernTask, type TaskMethodOptions } from './modern.js';
import { noteTaskParams } from './taskParams.js';

export { startedAsTask, wantsTask } from './startAsTask.js';
export type { TaskMethodOptions } from './modern.js';

/** The tools that run as tasks (each also sets `execution.taskSupport` where it is registered). */
const TASK_TOOLS = new Set(['start_agent_run']);

const taskId = z.string().min(1).max(200);
const TaskIdParams = z.looseObject({ taskId });
// The SDK lifts `inputResponses` off a 2026-07-28 request into ctx.mcpReq.inputResponses.
const Responses = z.record(z.string().max(200), z.unknown());
const UpdateParams = z.looseObject({ taskId, inputResponses: Responses.optional() });
const ListParams = z.looseObject({ cursor: z.string().max(2_000).optional() });
const AnyResult = z.looseObject({});

function notInThisEra(method: string, era: string): ProtocolError {
  return new ProtocolError(ProtocolErrorCode.MethodNotFound, `${method} is not part of the ${era} task methods`);
}

/** Registers the task methods on one server; call after the tools (it wraps tools/call). */
export function registerTasks(server: McpServer, runs: Runs, options: TaskMethodOptions): void {
  noteTaskParams(server, TASK_TOOLS);
  server.server.setRequestHandler('tasks/get', { params: TaskIdParams, result: AnyResult }, (params, ctx) =>
    isModernRequest(ctx) ? getModernTask(server, runs, ctx, params.taskId, options) : getLegacyTask(server, runs, ctx, params.taskId, options),
  );
  server.server.setRequestHandler('tasks/cancel', { params: TaskIdParams, result: AnyResult }, (params, ctx) =>
    isModernRequest(ctx) ? cancelModernTask(server, runs, ctx, params.taskId) : cancelLegacyTask(server, runs, ctx, params.taskId, options),
  );
  server.server.setRequestHandler('tasks/update', { params: UpdateParams, result: AnyResult }, (params, ctx) => {
    if (!isModernRequest(ctx)) throw notInThisEra('tasks/update', '2025-11-25');
    const responses = Responses.safeParse(params.inputResponses ?? ctx.mcpReq.inputResponses);
    if (!responses.success) throw new ProtocolError(ProtocolErrorCode.InvalidParams, 'tasks/update needs inputResponses: { <key from inputRequests>: <elicitation result> }');
    return updateModernTask(server, runs, ctx, params.taskId, responses.data);
  });
  server.server.setRequestHandler('tasks/result', { params: TaskIdParams, result: AnyResult }, (params, ctx) => {
    if (isModernRequest(ctx)) throw notInThisEra('tasks/result', '2026-07-28');
    return legacyTaskResult(server, runs, ctx, params.taskId, options);
  });
  server.server.setRequestHandler('tasks/list', { params: ListParams, result: AnyResult }, (params, ctx) => {
    if (isModernRequest(ctx)) throw notInThisEra('tasks/list', '2026-07-28');
    return listLegacyTasks(server, runs, ctx, params.cursor, options);
  });
}
