// start_agent_run answered as a task, for a client that asked for one: the 2026-07-28 extension's
// CreateTaskResult (`resultType: "task"`) or the 2025-11-25 `{ task }`. The run is started (durable in
// Temporal) and readable before the answer goes out. The answer stays a valid CallToolResult too
// (content and structuredContent as ever), so nothing breaks for a client that reads it as one.
import type { CallToolResult, McpServer, ServerContext } from '@modelcontextprotocol/server';
import type { RunStatusName } from '../../shared/contract.js';
import type { Caller } from '../principal.js';
import type { Runs } from '../runs.js';
import { ok } from '../toolResult.js';
import { declaresTasksExtension } from '../clientCapabilities.js';
import { formsReachClient, type TaskMethodOptions } from './modern.js';
import { notifyTaskChanges, changeKeyOf } from './statusNotifier.js';
import { requestedTask } from './taskParams.js';
import { legacyTaskOf, modernTaskOf } from './taskView.js';

/** Hosts that hand the model something while the task runs (2025-11-25 `_meta` key). */
const MODEL_IMMEDIATE_RESPONSE = 'io.modelcontextprotocol/model-immediate-response';

export function wantsTask(server: McpServer, ctx: ServerContext): boolean {
  return declaresTasksExtension(server, ctx) || requestedTask(server, ctx) !== undefined;
}

export async function startedAsTask(
  server: McpServer,
  runs: Runs,
  ctx: ServerContext,
  caller: Caller,
  started: { runId: string; status: RunStatusName; created: boolean },
  options: TaskMethodOptions,
): Promise<CallToolResult> {
  const forms = formsReachClient(server, ctx, options);
  const run = await runs.status(started.runId, caller); // readable now, so tasks/get will resolve
  const retention = await runs.retentionMs();
  const answer = ok(started);
  if (declaresTasksExtension(server, ctx)) {
    return { ...answer, resultType: 'task', ...modernTaskOf(run, forms, retention, Date.now()) };
  }
  const task = legacyTaskOf(run, forms, retention, Date.now());
  notifyTaskChanges(server, runs, caller, run.runId, forms, changeKeyOf(task));
  const note =
    `Started durable agent run ${run.runId} as a task; its result arrives when the run ends ` +
    '(get_run_status and get_run_result work on the same runId meanwhile).';
  return { ...answer, task, _meta: { [MODEL_IMMEDIATE_RESPONSE]: note } };
}
