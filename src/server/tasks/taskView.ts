// A run seen as an MCP task. Pure: every field comes from the run's status (which lives in Temporal),
// so any server instance answers the same for the same run, before and after a restart.
import type { CallToolResult } from '@modelcontextprotocol/server';
import { isClosedStatus, type RunStatus, type RunStatusName } from '../../shared/contract.js';
import { approvalRequests } from '../approvals/forms.js';
import { ok } from '../toolResult.js';

export type TaskStatusName = 'working' | 'input_required' | 'completed' | 'failed' | 'cancelled';

/** Suggested poll interval: a step of an agent takes seconds, a status read a few milliseconds. */
export const TASK_POLL_INTERVAL_MS = 1_000;

const STATUS_MESSAGE_CHARS = 500;

/** running → working; waiting_for_approval → input_required (when the client can answer forms). */
export function taskStatusOf(status: RunStatusName, formsReachClient: boolean): TaskStatusName {
  switch (status) {
    case 'running':
      return 'working';
    case 'waiting_for_approval':
      return formsReachClient ? 'input_required' : 'working';
    case 'completed':
      return 'completed';
    case 'failed':
    case 'timed_out':
      return 'failed';
    case 'cancelled':
      return 'cancelled';
  }
}

export function isTerminalTask(status: TaskStatusName): boolean {
  return status === 'completed' || status === 'failed' || status === 'cancelled';
}

/** One line a client can show for the task: where the run is, what it waits for, how it ended. */
export function statusMessageOf(run: RunStatus, formsReachClient: boolean): string {
  let message: string;
  switch (run.status) {
    case 'running':
      message = `Step ${run.step} of ${run.maxSteps}${run.lastToolCall ? `; last tool: ${run.lastToolCall.tool}` : ''}${run.waiting ? `; waiting: ${run.waiting.reason}` : ''}.`;
      break;
    case 'waiting_for_approval': {
      const asks = run.pendingApprovals.map((a) => `${a.tool} (${a.approvalId}): ${a.summary}`).join('; ') || (run.error ?? 'details unavailable');
      message = formsReachClient
        ? `Waiting for approval: ${asks}`
        : `Waiting for approval: ${asks}. Answer with the approve_step tool.`;
      break;
    }
    case 'completed':
      message = `Completed: ${run.result ?? ''}`;
      break;
    case 'failed':
      message = `Run failed: ${run.error ?? 'no error recorded'}`;
      break;
    case 'timed_out':
      message = `Run timed out: ${run.error ?? 'it ran out of its time budget (timeoutSeconds)'}`;
      break;
    case 'cancelled':
      message = 'Run cancelled.';
      break;
  }
  return message.length > STATUS_MESSAGE_CHARS ? `${message.slice(0, STATUS_MESSAGE_CHARS - 1)}…` : message;
}

/**
 * How long the task stays readable, counted from its creation as both task shapes count it: up to now
 * (or its close) plus the namespace's retention. It grows while the run is open.
 */
export function ttlOf(run: { startedAt: string; closedAt?: string }, retentionMs: number, nowMs: number): number {
  const created = Date.parse(run.startedAt);
  const end = run.closedAt ? Date.parse(run.closedAt) : nowMs;
  return Math.max(0, (Number.isFinite(end) ? end : nowMs) - (Number.isFinite(created) ? created : nowMs)) + retentionMs;
}

/** The fields both task shapes share; each shape names ttl and poll interval its own way. */
export interface TaskCore {
  taskId: string;
  status: TaskStatusName;
  statusMessage: string;
  createdAt: string;
  lastUpdatedAt: string;
}

export function taskCoreOf(run: RunStatus, formsReachClient: boolean): TaskCore {
  // Without a worker to answer, a waiting run's approvals are unknown: there is no form to offer.
  const forms = formsReachClient && run.pendingApprovals.length > 0;
  return {
    taskId: run.runId,
    status: taskStatusOf(run.status, forms),
    statusMessage: statusMessageOf(run, forms),
    createdAt: run.startedAt,
    lastUpdatedAt: run.closedAt ?? run.updatedAt,
  };
}

/** 2026-07-28 extension shape: `ttlMs`, `pollIntervalMs`. */
export function modernTaskOf(run: RunStatus, formsReachClient: boolean, retentionMs: number, nowMs: number) {
  return { ...taskCoreOf(run, formsReachClient), ttlMs: ttlOf(run, retentionMs, nowMs), pollIntervalMs: TASK_POLL_INTERVAL_MS };
}

/** 2025-11-25 shape: `ttl`, `pollInterval`. */
export function legacyTaskOf(run: RunStatus, formsReachClient: boolean, retentionMs: number, nowMs: number) {
  return { ...taskCoreOf(run, formsReachClient), ttl: ttlOf(run, retentionMs, nowMs), pollInterval: TASK_POLL_INTERVAL_MS };
}

/**
 * What the run's tool call finally returns: the final RunStatus, exactly as get_run_result gives it;
 * a run that failed, timed out or was cancelled is a tool error whose first line says why.
 */
export function finalToolResult(run: RunStatus): CallToolResult {
  const result = ok(run);
  if (run.status === 'completed' || !isClosedStatus(run.status)) return result;
  return { ...result, content: [{ type: 'text', text: statusMessageOf(run, false) }, ...result.content], isError: true };
}

/** The JSON-RPC error a failed task carries (2026-07-28 `error`): the run's error, with its status as data. */
export function taskErrorOf(run: RunStatus): { code: number; message: string; data: { runStatus: RunStatus } } {
  return { code: -32603, message: statusMessageOf(run, false), data: { runStatus: run } };
}

/**
 * The 2026-07-28 task with what its status carries, as tasks/get and notifications/tasks give it:
 * the forms while input_required, the final result once completed, the error once failed.
 */
export function modernDetailedTaskOf(run: RunStatus, formsReachClient: boolean, retentionMs: number, nowMs: number) {
  const task = modernTaskOf(run, formsReachClient, retentionMs, nowMs);
  switch (task.status) {
    case 'input_required':
      return { ...task, inputRequests: approvalRequests(run) };
    case 'completed':
      return { ...task, result: finalToolResult(run) };
    case 'failed':
      return { ...task, error: taskErrorOf(run) };
    default:
      return task;
  }
}
