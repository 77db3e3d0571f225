// What Temporal tells of a run without a worker: the memo the server and the workflow write, and
// the run status an execution status stands for, and "no such run". Shared by reading and listing runs.
import type { RunStatusName } from '../shared/contract.js';
import type { WorkflowExecutionDescription } from '@temporalio/client';
import type { StatusRecord } from '../shared/statusRecord.js';
import type { ParameterFingerprints } from './idempotency.js';
import { localPrincipal } from './principal.js';
import type { CloseRecord } from './runTail.js';
import { UnknownRunError, type UserError } from './toolResult.js';

export interface RunMemo {
  task?: string;
  startedAt?: string;
  maxSteps?: number;
  agentStatus?: 'running' | 'waiting_for_approval';
  pendingApprovalIds?: string[];
  startNonce?: string;
  /** The step the run is on; written by the workflow since patch `step-in-memo`. */
  agentStep?: number;
  parentRunId?: string;
  /** The principal that started the run; absent on runs from before principals (the local one's). */
  owner?: string;
  /** The status the run recorded at its last wait, from patch level 2 (src/shared/statusRecord.ts). */
  agentRecord?: StatusRecord;
  /** Set when the run was started with an idempotencyKey: what a repeated key must match. */
  params?: ParameterFingerprints;
}

/** Whose run it is: runs from before principals existed belong to the local principal. */
export function ownerOf(record: { owner?: string } | undefined): string {
  return record?.owner ?? localPrincipal();
}

/** The run status of a closed execution, by Temporal's execution status name. */
export const CLOSED_STATUS: Record<string, RunStatusName> = {
  COMPLETED: 'completed',
  FAILED: 'failed',
  TERMINATED: 'failed',
  CANCELLED: 'cancelled',
  TIMED_OUT: 'timed_out',
};

/** What describe() tells of a closed run's close. */
export function closeOf(desc: WorkflowExecutionDescription): CloseRecord {
  const closedAt = desc.closeTime?.toISOString();
  return { status: CLOSED_STATUS[desc.status.name] ?? 'failed', ...(closedAt ? { closedAt } : {}) };
}

/** The answer for a runId that names no run of this server's (or none the caller may see). */
export function unknownRun(runId: string): UserError {
  return new UnknownRunError(`No run with runId "${runId}". Use list_runs to find runs, or start_agent_run to start one.`);
}

/** Whether Temporal said NOT_FOUND (gRPC code 5). */
export function isNotFound(err: unknown): boolean {
  return typeof err === 'object' && err !== null && (err as { code?: number }).code === 5;
}
