// A task id is a runId: reading the task reads the run, with the run service's ownership check.
import { ProtocolError, ProtocolErrorCode } from '@modelcontextprotocol/server';
import type { RunStatus } from '../../shared/contract.js';
import type { Caller } from '../principal.js';
import type { Runs } from '../runs.js';
import { UnknownRunError, UserError } from '../toolResult.js';

/** Runs a run-service call for a task, turning its errors into the JSON-RPC errors tasks use. */
export async function forTask<T>(taskId: string, body: () => Promise<T>): Promise<T> {
  try {
    return await body();
  } catch (err) {
    if (err instanceof UnknownRunError) {
      throw new ProtocolError(
        ProtocolErrorCode.InvalidParams,
        `Failed to retrieve task: Task not found (no run "${taskId}" of yours; list_runs lists your runs).`,
      );
    }
    if (err instanceof UserError) throw new ProtocolError(ProtocolErrorCode.InternalError, err.message);
    throw err;
  }
}

export function runOfTask(runs: Runs, taskId: string, caller: Caller): Promise<RunStatus> {
  return forTask(taskId, () => runs.status(taskId, caller));
}
